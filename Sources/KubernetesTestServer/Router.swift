import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SecretsStoreAPI
import StructuredJSON

/// Turns HTTP requests into ClusterState operations, with kube-apiserver's paths, query parameters and replies.
struct Router: Sendable {
    let state: ClusterState
    let faults: Faults
    let access: AccessControl
    let issuer: TokenIssuer
    let registry: ResourceRegistry
    let tally: RequestTally
    let accessLog: AccessLog

    /// The parts of a resource URL.
    struct Target {
        var definition: ResourceDefinition
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    func handle(_ request: Request) async -> Response {
        var request = request
        var path = request.uri.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let body = (try? await request.collectBody(upTo: 64 << 20)).map { Data(buffer: $0) } ?? Data()
        switch path {
        case "/.well-known/openid-configuration": return Self.json(200, issuer.discovery)
        case "/openid/v1/jwks": return Self.json(200, issuer.jwks)
        case "/healthz", "/livez", "/readyz": return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
        default: break
        }
        let authorization = request.headers[.authorization] ?? ""
        guard authorization.hasPrefix("Bearer "), let identity = await identify(String(authorization.dropFirst(7))) else {
            return Self.error(APIError.unauthorized)
        }
        if path.hasPrefix("/_testserver/") {
            guard identity == .admin else { return Self.error(APIError(code: 403, reason: "Forbidden", message: "the test server's admin endpoints need the admin token")) }
            return await admin(request, path: path, body: body)
        }

        let response = await serve(request, path: path, body: body, identity: identity)
        await tally.record(verb: request.method.rawValue, path: path, watch: request.uri.queryParameters["watch"] == "true", code: response.status.code)
        return response
    }

    /// The admin token (and tokens accepted through the admin API) are all-powerful; a service-account token this
    /// server issued authenticates as that account while the account exists.
    func identify(_ token: String) async -> Identity? {
        if await access.accepts(token) { return .admin }
        guard let account = issuer.verify(token), await state.exists(ResourceRegistry.serviceAccounts, namespace: account.namespace, name: account.name) else { return nil }
        return .serviceAccount(namespace: account.namespace, name: account.name)
    }

    func serve(_ request: Request, path: String, body: Data, identity: Identity) async -> Response {
        let (delay, fault) = await faults.next()
        if delay > 0 { try? await Task.sleep(for: .milliseconds(delay)) }
        if let fault { return Self.error(fault) }
        do {
            return try await api(request, path: path, body: body, identity: identity)
        } catch {
            return Self.error(error)
        }
    }

    /// RBAC, as kube-apiserver's authorizer applies it to a service account: the request's verb, group, resource,
    /// subresource, namespace and name against the stored Roles, ClusterRoles and bindings. 403 worded as it words it.
    func authorize(_ identity: Identity, _ request: Request, group: String, resource: String, subresource: String?, namespace: String?, name: String?) async throws(APIError) {
        guard identity != .admin else { return }
        let verb: String
        switch request.method {
        case .get where name != nil: verb = "get"
        case .get: verb = request.uri.queryParameters["watch"].map { ["true", "1", "t"].contains(String($0).lowercased()) } == true ? "watch" : "list"
        case .post: verb = "create"
        case .put: verb = "update"
        case .patch: verb = "patch"
        case .delete: verb = name == nil ? "deletecollection" : "delete"
        default: verb = request.method.rawValue.lowercased()
        }
        let attributes = Authorizer.Attributes(user: identity.userName, groups: identity.groups, namespace: namespace ?? "", verb: verb, group: group,
                                               resource: resource, subresource: subresource ?? "", name: name ?? "")
        let decision = Authorizer.decide(attributes, roles: await state.all(Authorizer.roles), clusterRoles: await state.all(Authorizer.clusterRoles),
                                         roleBindings: await state.all(Authorizer.roleBindings),
                                         clusterRoleBindings: await state.all(Authorizer.clusterRoleBindings))
        await accessLog.record(attributes, allowed: decision.allowed)
        guard !decision.allowed else { return }
        let what = subresource.map { "\(resource)/\($0)" } ?? resource
        let scope = namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        var details: JSONValue = ["kind": .string(resource)]
        if let name { details["name"] = .string(name) }
        if !group.isEmpty { details["group"] = .string(group) }
        let qualified = group.isEmpty ? resource : "\(resource).\(group)"
        throw APIError(code: 403, reason: "Forbidden",
                       message: "\(qualified)\(name.map { " \"\($0)\"" } ?? "") is forbidden: User \"\(identity.userName)\" cannot \(verb) resource \"\(what)\" in API group \"\(group)\" \(scope)",
                       details: details)
    }

    // MARK: API

    func api(_ request: Request, path: String, body: Data, identity: Identity) async throws(APIError) -> Response {
        switch path {
        case "/version":
            return Self.json(200, ["major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36", "minCompatibilityMajor": "1",
                                   "minCompatibilityMinor": "35", "gitVersion": "v1.36.2-akvs-test", "gitCommit": "", "gitTreeState": "clean",
                                   "buildDate": "2026-12-01T00:00:00Z", "goVersion": "go1.26", "compiler": "gc", "platform": "linux/amd64"])
        case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
            guard request.method == .post else { throw .methodNotAllowed("the server does not allow this method on the requested resource") }
            try await authorize(identity, request, group: "authorization.k8s.io", resource: "subjectaccessreviews", subresource: nil, namespace: nil, name: nil)
            return try await subjectAccessReview(body: body, manager: Self.manager(request))
        case "/api": return Self.json(200, registry.apiVersions())
        case "/apis": return Self.json(200, registry.apiGroupList())
        default: break
        }
        let segments = path.split(separator: "/").map(String.init)
        let group: String, version: String, rest: ArraySlice<String>
        if segments.first == "api", segments.count >= 2 {
            group = ""; version = segments[1]; rest = segments[2...]
        } else if segments.first == "apis", segments.count >= 3 {
            group = segments[1]; version = segments[2]; rest = segments[3...]
        } else if segments.first == "apis", segments.count == 2 {
            guard let found = registry.apiGroupList()["groups"]?.arrayValue?.first(where: { $0["name"]?.stringValue == segments[1] }) else {
                throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
            }
            var document = found; document["kind"] = "APIGroup"; document["apiVersion"] = "v1"
            return Self.json(200, document)
        } else {
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource (\(path))")
        }
        if rest.isEmpty {
            guard let list = registry.resourceList(group: group, version: version) else {
                throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource (\(path))")
            }
            return Self.json(200, list)
        }
        let target = try resolve(group: group, version: version, Array(rest))
        try await authorize(identity, request, group: group, resource: target.definition.kind.plural, subresource: target.subresource,
                            namespace: target.definition.kind.namespaced ? target.namespace : nil, name: target.name)
        return try await dispatch(request, target, body: body)
    }

    func resolve(group: String, version: String, _ s: [String]) throws(APIError) -> Target {
        func lookup(_ plural: String) throws(APIError) -> ResourceDefinition {
            guard let d = registry.find(group: group, version: version, plural: plural) else {
                throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource (\(plural) in \(group.isEmpty ? version : group + "/" + version))")
            }
            return d
        }
        if s[0] == "namespaces", s.count >= 3, !(group.isEmpty && s.count == 3 && (s[2] == "status" || s[2] == "finalize")) {
            let d = try lookup(s[2])
            guard d.kind.namespaced else { throw APIError(code: 404, reason: "NotFound", message: "\(d.kind.plural) is not namespaced") }
            return Target(definition: d, namespace: s[1], name: s.count > 3 ? s[3] : nil, subresource: s.count > 4 ? s[4] : nil)
        }
        let d = try lookup(s[0])
        return Target(definition: d, namespace: nil, name: s.count > 1 ? s[1] : nil, subresource: s.count > 2 ? s[2] : nil)
    }

    func dispatch(_ request: Request, _ t: Target, body: Data) async throws(APIError) -> Response {
        let q = request.uri.queryParameters
        let d = t.definition
        // Go's apiserver parses booleans with ParseBool and queries with ParseQuery (`+` is a space): older clients send `True` and `+`.
        func flag(_ name: String) -> Bool { q[Substring(name)].map { ["true", "1", "t"].contains(String($0).lowercased()) } ?? false }
        func text(_ name: String) -> String? { q[Substring(name)].map { String($0).replacingOccurrences(of: "+", with: " ") } }
        let dryRun = q["dryRun"].map { String($0) == "All" } ?? false
        let manager = q["fieldManager"].map(String.init) ?? Self.manager(request)
        var context = WriteContext(fieldManager: manager, subresource: t.subresource, dryRun: dryRun)
        let accept = request.headers[.accept] ?? ""
        let validation = try FieldValidation(q["fieldValidation"].map(String.init))
        if let sub = t.subresource {
            let allowed = (sub == "status" && d.statusSubresource) || (sub == "token" && d.kind == ResourceRegistry.serviceAccounts)
            guard allowed else { throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource (\(d.kind.plural)/\(sub))") }
        }
        if d.kind.namespaced, t.name != nil, t.namespace == nil {
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource: \(d.kind.plural) is namespaced; use /namespaces/<namespace>/\(d.kind.plural)/<name>")
        }
        switch (request.method, t.name) {
        case (.get, nil):
            let filter = try ObjectFilter(
                definition: d, namespace: t.namespace,
                labels: text("labelSelector").flatMap { $0.isEmpty ? nil : $0 }.map { s throws(APIError) in try LabelSelector(parsing: s) },
                fields: text("fieldSelector").flatMap { $0.isEmpty ? nil : $0 }.map { s throws(APIError) in try FieldSelector(parsing: s, kind: d.kind.kind) })
            if flag("watch") {
                if await faults.rejectsWatches { throw APIError(code: 503, reason: "ServiceUnavailable", message: "watches are refused (test-server fault rejectWatches)") }
                if flag("sendInitialEvents") { return try await watchList(filter, query: q) }
                return await watch(filter, query: q, bookmarks: flag("allowWatchBookmarks"))
            }
            let page = try await state.list(filter, limit: q["limit"].flatMap { Int(String($0)) }, continueToken: q["continue"].map(String.init))
            if TableFormat.wanted(accept: accept), let columns = TableFormat.columns(d) {
                var meta: JSONValue = ["resourceVersion": .string(String(page.revision))]
                if let token = page.continueToken { meta["continue"] = .string(token) }
                let objects = page.items.compactMap { try? JSONValue.parse(Data(buffer: $0)) }
                return Self.json(200, TableFormat.table(columns, objects: objects, listMetadata: meta, includeObject: text("includeObject")))
            }
            try Self.requireJSON(accept)
            return Self.listResponse(d, page)
        case (.get, let name?):
            if t.subresource == "token" { throw .methodNotAllowed("the server does not allow this method on the requested resource") }
            let stored = try await state.get(d, namespace: t.namespace, name: name)
            if TableFormat.wanted(accept: accept), t.subresource == nil, let columns = TableFormat.columns(d) {
                return Self.json(200, TableFormat.table(columns, objects: [stored.value], listMetadata: ["resourceVersion": .string(String(stored.resourceVersion))],
                                                        includeObject: text("includeObject")))
            }
            try Self.requireJSON(accept)
            return Self.object(200, stored)
        case (.post, nil):
            let object = try Self.parse(body)
            let warnings = try validation.check(d, object)
            return Self.object(201, try await state.create(d, namespace: t.namespace, body: object, context: context), warnings: warnings)
        case (.post, let name?) where t.subresource == "token":
            return try await tokenRequest(namespace: t.namespace ?? "", serviceAccount: name, body: body, manager: manager)
        case (.put, let name?):
            let object = try Self.parse(body)
            let warnings = try validation.check(d, object)
            return Self.object(200, try await state.update(d, namespace: t.namespace, name: name, body: object, context: context), warnings: warnings)
        case (.patch, let name?):
            let contentType = request.headers[.contentType] ?? ""
            let force = flag("force")
            if contentType.hasPrefix("application/apply-patch"), q["fieldManager"] == nil { context.fieldManager = "" }
            // Unknown fields are judged by the patch body (merge, strategic, apply): the fields it would set.
            var warnings: [String] = []
            if !contentType.hasPrefix("application/json-patch"), let patchBody = try? (contentType.hasPrefix("application/apply-patch") ? YAMLBody.parse(body) : JSONValue.parse(body)) {
                warnings = try validation.check(d, patchBody)
            }
            let existed = await state.exists(d.kind, namespace: d.kind.namespaced ? t.namespace : nil, name: name)
            let stored = try await state.patch(d, namespace: t.namespace, name: name, contentType: contentType, body: body, force: force, context: context)
            return Self.object(existed ? 200 : 201, stored, warnings: warnings)
        case (.delete, let name?):
            var options = ClusterState.DeleteOptions(propagationPolicy: q["propagationPolicy"].map(String.init))
            if !body.isEmpty, let json = try? JSONValue.parse(body) {
                options.uid = json[path: ["preconditions", "uid"]]?.stringValue
                options.resourceVersion = json[path: ["preconditions", "resourceVersion"]]?.stringValue
                options.propagationPolicy = json["propagationPolicy"]?.stringValue ?? options.propagationPolicy
                if json["orphanDependents"]?.boolValue == true { options.propagationPolicy = "Orphan" }
            }
            let deleted = try await state.delete(d, namespace: t.namespace, name: name, options: options)
            // A delete that only marks the object (finalizers, a namespace) answers the object; a completed one a Status.
            if deleted.value[path: ["metadata", "deletionTimestamp"]] != nil { return Self.object(200, deleted) }
            var details: JSONValue = ["name": .string(name), "kind": .string(d.kind.plural), "uid": .string(deleted.uid)]
            if !d.kind.group.isEmpty { details["group"] = .string(d.kind.group) }
            return Self.json(200, ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "details": details])
        default:
            throw .methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    // MARK: watch

    func watch(_ filter: ObjectFilter, query: Parameters, bookmarks: Bool, initialEvents: Bool = false) async -> Response {
        let from = initialEvents ? nil : query["resourceVersion"].flatMap { Int(String($0)) }.flatMap { $0 == 0 ? nil : $0 }
        let timeout = query["timeoutSeconds"].flatMap { Int(String($0)) } ?? 1800
        let (id, stream) = await state.watch(filter, resourceVersion: from, bookmarks: bookmarks, initialEventsEnd: initialEvents)
        let state = self.state
        let body = ResponseBody { writer in
            let timer = Task {
                try await Task.sleep(for: .seconds(timeout))
                await state.endWatch(id)
            }
            defer { timer.cancel() }
            do {
                for await line in stream { try await writer.write(line) }
            } catch {
                await state.endWatch(id)
                throw error
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-cache, private"
        return Response(status: .ok, headers: headers, body: body)
    }

    /// `sendInitialEvents=true`: every current object as ADDED, then a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"`, then changes; or, as recorded from a kube-apiserver on etcd without watch
    /// progress, one ERROR event (fault `watchListUnsupported`).
    func watchList(_ filter: ObjectFilter, query: Parameters) async throws(APIError) -> Response {
        guard query["resourceVersionMatch"].map(String.init) == "NotOlderThan" else {
            throw .invalid(kind: "ListOptions.meta.k8s.io", "", field: "resourceVersionMatch", value: "\"\(query["resourceVersionMatch"].map(String.init) ?? "")\"",
                           "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
        }
        guard query["allowWatchBookmarks"].map({ ["true", "1", "t"].contains(String($0).lowercased()) }) == true else {
            throw .invalid(kind: "ListOptions.meta.k8s.io", "", field: "allowWatchBookmarks", value: "false", "sendInitialEvents requires setting allowWatchBookmarks to true")
        }
        if await faults.refusesWatchList {
            let status = APIError(code: 500, reason: "InternalError",
                                  message: "a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled").status()
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let line = WatchLine.encode(type: "ERROR", objectBytes: ByteBuffer(data: status.encoded()))
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: line))
        }
        return await watch(filter, query: query, bookmarks: true, initialEvents: true)
    }

    // MARK: SubjectAccessReview

    func subjectAccessReview(body: Data, manager: String) async throws(APIError) -> Response {
        var review = try Self.parse(body)
        let attributes = try Authorizer.attributes(review)
        let decision = Authorizer.decide(attributes, roles: await state.all(Authorizer.roles), clusterRoles: await state.all(Authorizer.clusterRoles),
                                         roleBindings: await state.all(Authorizer.roleBindings),
                                         clusterRoleBindings: await state.all(Authorizer.clusterRoleBindings))
        review["apiVersion"] = "authorization.k8s.io/v1"
        review["kind"] = "SubjectAccessReview"
        review["metadata"] = review["metadata"] ?? [:]
        review[path: ["metadata", "managedFields"]] = Self.requestManagedFields(review, manager: manager, apiVersion: "authorization.k8s.io/v1")
        var status: JSONValue = ["allowed": .bool(decision.allowed)]
        if !decision.reason.isEmpty { status["reason"] = .string(decision.reason) }
        review["status"] = status
        return Self.json(201, review)
    }

    // MARK: TokenRequest

    func tokenRequest(namespace: String, serviceAccount: String, body: Data, manager: String) async throws(APIError) -> Response {
        if await faults.refusesTokenRequests {
            throw APIError(code: 503, reason: "ServiceUnavailable", message: "token requests are refused (test-server fault refuseTokenRequests)")
        }
        let sa = try await state.get(registry.definitions.first { $0.kind == ResourceRegistry.serviceAccounts }!, namespace: namespace, name: serviceAccount)
        let request = try Self.parse(body)
        let kind = "TokenRequest.authentication.k8s.io"
        let requested = request[path: ["spec", "expirationSeconds"]]?.numberValue ?? 3600
        // Int(exactly:): 1e300 or 1.5 is refused instead of trapping the conversion.
        // The TokenRequest itself has no name, so kube-apiserver's Invalid says `TokenRequest... ""`.
        guard let expiration = Int(exactly: requested) else {
            throw .invalid(kind: kind, "", field: "spec.expirationSeconds", value: "\(requested)", "must be a whole number of seconds")
        }
        guard expiration >= 600 else {
            throw .invalid(kind: kind, "", field: "spec.expirationSeconds", value: String(expiration), "may not specify a duration less than 10 minutes")
        }
        guard expiration <= 1 << 32 else {
            throw .invalid(kind: kind, "", field: "spec.expirationSeconds", value: String(expiration), "may not specify a duration larger than 2^32 seconds")
        }
        let audiences = (request[path: ["spec", "audiences"]]?.arrayValue ?? []).compactMap(\.stringValue)
        let issued: (token: String, expires: Date)
        do {
            issued = try issuer.token(namespace: namespace, serviceAccount: serviceAccount, serviceAccountUID: sa.uid,
                                      audiences: audiences.isEmpty ? [issuer.issuer] : audiences, expirationSeconds: expiration)
        } catch {
            throw APIError(code: 500, reason: "InternalError", message: "signing the token failed: \(error)")
        }
        var reply = request
        reply["kind"] = "TokenRequest"; reply["apiVersion"] = "authentication.k8s.io/v1"
        reply[path: ["metadata", "name"]] = .string(serviceAccount)
        reply[path: ["metadata", "namespace"]] = .string(namespace)
        reply[path: ["metadata", "uid"]] = .string(sa.uid)
        reply[path: ["metadata", "creationTimestamp"]] = sa.value[path: ["metadata", "creationTimestamp"]]
        if reply[path: ["spec", "boundObjectRef"]] == nil { reply[path: ["spec", "boundObjectRef"]] = .null }
        reply[path: ["metadata", "managedFields"]] = Self.requestManagedFields(request, manager: manager, apiVersion: "authentication.k8s.io/v1", subresource: "token")
        reply[path: ["spec", "audiences"]] = .array((audiences.isEmpty ? [issuer.issuer] : audiences).map { .string($0) })
        reply[path: ["spec", "expirationSeconds"]] = .number(Double(expiration))
        reply["status"] = ["token": .string(issued.token), "expirationTimestamp": .string(APITime.string(issued.expires))]
        return Self.json(201, reply)
    }

    // MARK: admin

    func admin(_ request: Request, path: String, body: Data) async -> Response {
        switch (request.method, path) {
        case (.post, "/_testserver/faults"):
            guard let settings = try? JSONDecoder().decode(APIServerFaults.self, from: body) else {
                return Self.error(APIError.badRequest("faults: expected JSON {latencyMs, errorRate, throttle: {count, retryAfterSeconds}, rejectWatches, refuseTokenRequests}"))
            }
            await faults.set(settings)
        case (.delete, "/_testserver/faults"): await faults.set(APIServerFaults())
        case (.post, "/_testserver/drop-watches"): await state.dropWatches()
        case (.post, "/_testserver/compact"): await state.compact()
        case (.post, "/_testserver/restart"): await state.dropWatches(); await state.compact()
        case (.post, "/_testserver/tokens"):
            guard let token = (try? JSONValue.parse(body))?["token"]?.stringValue else { return Self.error(APIError.badRequest("tokens: expected {\"token\": \"...\"}")) }
            await access.add(token)
        case (.delete, "/_testserver/tokens"):
            guard let token = (try? JSONValue.parse(body))?["token"]?.stringValue else { return Self.error(APIError.badRequest("tokens: expected {\"token\": \"...\"}")) }
            await access.remove(token)
        case (.get, "/_testserver/requests"):
            // ?reset=true starts a new count after this answer.
            return Self.json(200, await tally.snapshot(reset: request.uri.queryParameters["reset"] == "true"))
        case (.get, "/_testserver/access"):
            // ?reset=true starts a new log after this answer.
            return Self.json(200, await accessLog.snapshot(reset: request.uri.queryParameters["reset"] == "true"))
        case (.get, "/_testserver/stats"):
            return Self.json(200, ["resourceVersion": .number(Double(await state.revision)), "openWatches": .number(Double(await state.openWatchCount))])
        default:
            return Self.error(APIError(code: 404, reason: "NotFound", message: "no test-server endpoint \(request.method) \(path)"))
        }
        return Self.json(200, ["status": "ok"])
    }

    // MARK: replies

    /// The field manager of a request without `fieldManager`: the user agent's product, as kube-apiserver names it.
    static func manager(_ request: Request) -> String {
        String((request.headers[.userAgent] ?? "").split(separator: "/").first ?? "unknown")
    }

    /// The managedFields kube-apiserver puts on the reply of a create-only request (TokenRequest, SubjectAccessReview).
    static func requestManagedFields(_ body: JSONValue, manager: String, apiVersion: String, subresource: String? = nil) -> JSONValue {
        var ownership = FieldOwnership()
        ownership.recordUpdate(manager: .init(name: manager, operation: "Update", subresource: subresource),
                               changed: FieldOwnership.leafPaths(of: ["spec": body["spec"] ?? [:]], includeStatus: false),
                               time: APITime.string(Date()), apiVersion: apiVersion)
        return ownership.managedFields()
    }

    static func parse(_ body: Data) throws(APIError) -> JSONValue {
        do { return try JSONValue.parse(body) } catch { throw .badRequest("the request body is not valid JSON: \(error)") }
    }

    static func json(_ code: Int, _ value: JSONValue, headers extra: [(String, String)] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        for (name, value) in extra { if let field = HTTPField.Name(name) { headers[field] = value } }
        return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: ByteBuffer(data: value.encoded())))
    }

    static func object(_ code: Int, _ stored: StoredObject, warnings: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        for warning in warnings { headers.append(HTTPField(name: .init("Warning")!, value: "299 - \(String(decoding: JSONValue.string(warning).encoded(), as: UTF8.self))")) }
        return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: stored.bytes))
    }

    /// 406 when no media range of `Accept` admits the JSON the server can send.
    static func requireJSON(_ accept: String) throws(APIError) {
        guard TableFormat.acceptsJSON(accept) else {
            throw APIError(code: 406, reason: "NotAcceptable", message: "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io")
        }
    }

    static func error(_ error: any Error) -> Response {
        let apiError = error as? APIError ?? APIError(code: 500, reason: "InternalError", message: "\(error)")
        return json(apiError.code, apiError.status(), headers: apiError.headers)
    }

    static func listResponse(_ d: ResourceDefinition, _ page: ClusterState.ListPage) -> Response {
        var meta: JSONValue = ["resourceVersion": .string(String(page.revision))]
        if let token = page.continueToken { meta["continue"] = .string(token) } else if d.custom { meta["continue"] = "" }
        if let remaining = page.remaining { meta["remainingItemCount"] = .number(Double(remaining)) }
        var buffer = ByteBuffer()
        buffer.writeString("{\"apiVersion\":\"\(d.kind.apiVersion)\",\"kind\":\"\(d.kind.kind)List\",\"metadata\":")
        buffer.writeData(meta.encoded())
        buffer.writeString(",\"items\":[")
        for (i, item) in page.items.enumerated() {
            if i > 0 { buffer.writeString(",") }
            buffer.writeImmutableBuffer(item)
        }
        buffer.writeString("]}")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
    }
}

/// Bearer tokens the server accepts.
actor AccessControl {
    var tokens: Set<String>
    init(tokens: Set<String>) { self.tokens = tokens }
    func accepts(_ token: String) -> Bool { tokens.contains(token) }
    func add(_ token: String) { tokens.insert(token) }
    func remove(_ token: String) { tokens.remove(token) }
}
