import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import StructuredJSON
import Testing

@Suite struct CRUDTests {
    @Test func createGetUpdateConflictDelete() async throws {
        try await withCluster { _, client in
            let created = try await client.create(secret("db", ["password": "s3cret"]))
            #expect(created.metadata.uid != nil)
            #expect(created.type == "Opaque")
            let rv1 = try #require(Int(created.metadata.resourceVersion ?? ""))

            var fetched = try await client.get(Secret.self, name: "db")
            #expect(value(fetched, "password") == "s3cret")

            fetched.data = ["password": Data("new".utf8)]
            let updated = try await client.update(fetched)
            #expect(try #require(Int(updated.metadata.resourceVersion ?? "")) > rv1)

            // The old copy carries a stale resourceVersion: 409 Conflict, nothing changes.
            var stale = created
            stale.data = ["password": Data("lost".utf8)]
            let conflict = await kubeError { _ = try await client.update(stale) }
            #expect(conflict?.isConflict == true)
            #expect(value(try await client.get(Secret.self, name: "db"), "password") == "new")

            let exists = await kubeError { _ = try await client.create(secret("db")) }
            #expect(exists?.isAlreadyExists == true)
            #expect(exists?.description.contains("secrets \"db\" already exists") == true)

            try await client.delete(Secret.self, name: "db")
            let missing = await kubeError { _ = try await client.get(Secret.self, name: "db") }
            #expect(missing?.isNotFound == true)
        }
    }

    @Test func unchangedUpdateKeepsResourceVersion() async throws {
        try await withCluster { server, client in
            let created = try await client.create(secret("same", ["k": "v"]))
            let before = await server.resourceVersion
            let again = try await client.update(created)
            #expect(again.metadata.resourceVersion == created.metadata.resourceVersion)
            #expect(await server.resourceVersion == before)
        }
    }

    @Test func namespacesMustExistAndDeletionCascades() async throws {
        try await withCluster { _, client in
            let missing = await kubeError { _ = try await client.create(secret("x", namespace: "nowhere")) }
            #expect(missing?.isNotFound == true)
            #expect(missing?.description.contains("namespaces \"nowhere\" not found") == true)

            _ = try await client.create(Namespace(name: "apps"))
            _ = try await client.create(secret("a", namespace: "apps"))
            try await client.delete(Namespace.self, name: "apps")
            var gone: KubernetesError?
            for _ in 0..<50 where gone == nil {
                try await Task.sleep(for: .milliseconds(100))
                gone = await kubeError { _ = try await client.get(Secret.self, name: "a", namespace: "apps") }
            }
            #expect(gone?.isNotFound == true)
            #expect(await kubeError { _ = try await client.get(Namespace.self, name: "apps") }?.isNotFound == true)
        }
    }

    @Test func aDeletedNamespaceIsTerminatingFirst() async throws {
        // As on kube-apiserver: the namespace turns Terminating, refuses new content (403) and a new namespace of its
        // name (409), and goes once the namespace controller's work is done (here held back for the test).
        try await withCluster(.init(namespaceFinalizeDelay: .seconds(120))) { _, client in
            _ = try await client.create(Namespace(name: "apps"))
            try await client.delete(Namespace.self, name: "apps")
            let terminating = try await client.get(Namespace.self, name: "apps")
            #expect(terminating.metadata.deletionTimestamp != nil)
            let refused = await kubeError { _ = try await client.create(secret("b", namespace: "apps")) }
            #expect(refused?.code == 403 && refused?.description.contains("is being terminated") == true)
            let again = await kubeError { _ = try await client.create(Namespace(name: "apps")) }
            #expect(again?.isAlreadyExists == true)
        }
    }

    @Test func selectorsAndPaging() async throws {
        try await withCluster { _, client in
            for i in 0..<25 {
                _ = try await client.create(secret("s\(i)", labels: ["tier": i % 2 == 0 ? "even" : "odd", "app": "web"]))
            }
            _ = try await client.create(Secret(metadata: ObjectMeta(name: "tls", namespace: "default"), type: "kubernetes.io/tls",
                                               data: ["tls.crt": Data("c".utf8), "tls.key": Data("k".utf8)]))
            #expect(try await client.list(Secret.self, namespace: "default", options: .init(labelSelector: "tier=even")).items.count == 13)
            #expect(try await client.list(Secret.self, namespace: "default", options: .init(labelSelector: "tier in (odd),app")).items.count == 12)
            #expect(try await client.list(Secret.self, namespace: "default", options: .init(labelSelector: "!tier")).items.map(\.metadata.name) == ["tls"])
            #expect(try await client.list(Secret.self, namespace: "default", options: .init(labelSelector: "tier notin (even)")).items.count == 13)
            #expect(try await client.list(Secret.self, namespace: "default", options: .init(fieldSelector: "type=kubernetes.io/tls")).items.count == 1)
            #expect(try await client.list(Secret.self, namespace: nil, options: .init(fieldSelector: "metadata.name=s3")).items.count == 1)
            let bad = await kubeError { _ = try await client.list(Secret.self, namespace: "default", options: .init(fieldSelector: "data.x=1")) }
            #expect(bad?.code == 400)

            let page = try await client.list(Secret.self, namespace: "default", options: .init(limit: 10))
            #expect(page.items.count == 10)
            #expect(page.metadata.continue != nil)
            #expect(page.metadata.remainingItemCount == 16)
            let all = try await client.listAll(Secret.self, namespace: "default", pageSize: 7)
            #expect(all.items.count == 26)
            #expect(Set(all.items.map { $0.metadata.name ?? "" }).count == 26)
        }
    }

    @Test func mergeAndJSONPatch() async throws {
        try await withCluster { _, client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "cm", namespace: "default"), data: ["a": "1", "b": "2"]))
            let merged = try await client.patch(ConfigMap.self, name: "cm", .merge(["data": ["a": .null, "c": "3"]]))
            #expect(merged.data == ["b": "2", "c": "3"])
            let patched = try await client.patch(ConfigMap.self, name: "cm", .json([["op": "replace", "path": "/data/b", "value": "20"]]))
            #expect(patched.data?["b"] == "20")
            let failed = await kubeError {
                _ = try await client.patch(ConfigMap.self, name: "cm", .json([["op": "test", "path": "/data/b", "value": "nope"], ["op": "remove", "path": "/data/c"]]))
            }
            #expect(failed?.code == 422)
            #expect(try await client.get(ConfigMap.self, name: "cm").data?["c"] == "3")
            // Custom resources refuse strategic merge patch, as CRDs do.
            _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: "spc", namespace: "default"), spec: .init(provider: "azure")))
            let smp = await kubeError { _ = try await client.patch(SecretProviderClass.self, name: "spc", .strategic(["spec": ["provider": "x"]])) }
            #expect(smp?.code == 415)
        }
    }

    /// Each copy may double the object: 30 copies in a 1.4 KB patch hung the server (Fuzz/patch harness) before the copy budget.
    @Test func aJSONPatchThatKeepsCopyingIsTooLarge() async throws {
        try await withCluster { _, client in
            let filler = String(repeating: "x", count: 64 << 10)
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "cm", namespace: "default"), data: ["a": filler]))
            // Copying a 64 KiB value 60 times adds 3.75 MiB, past the 3 MiB budget; nothing is stored.
            let copies: [JSONValue] = (0..<60).map { ["op": "copy", "from": "/data/a", "path": .string("/data/c\($0)")] }
            let tooLarge = await kubeError { _ = try await client.patch(ConfigMap.self, name: "cm", .json(copies)) }
            #expect(tooLarge?.code == 413 && tooLarge?.reason == "RequestEntityTooLarge")
            #expect(tooLarge?.description.contains("json patch copy operations add more than 3145728 bytes") == true)
            let tooMany = await kubeError {
                _ = try await client.patch(ConfigMap.self, name: "cm", .json(Array(repeating: ["op": "add", "path": "/data/z", "value": "1"], count: 10_001)))
            }
            #expect(tooMany?.description.contains("The allowed maximum operations in a JSON patch is 10000, got 10001") == true)
            #expect(try await client.get(ConfigMap.self, name: "cm").data == ["a": filler])
        }
    }

    @Test func deletePreconditions() async throws {
        try await withCluster { _, client in
            let created = try await client.create(secret("p"))
            let wrong = await kubeError { try await client.delete(Secret.self, name: "p", options: .init(resourceVersion: "1")) }
            #expect(wrong?.isConflict == true)
            let wrongUID = await kubeError { try await client.delete(Secret.self, name: "p", options: .init(uid: "nope")) }
            #expect(wrongUID?.description.contains("Precondition failed") == true)
            try await client.delete(Secret.self, name: "p", options: .init(uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion))
        }
    }

    @Test func unauthorizedWithoutToken() async throws {
        try await withCluster { server, client in
            let config = KubernetesConfiguration(server: server.url, token: .fixed("wrong"))
            let other = try KubernetesClient(configuration: config)
            let error = await kubeError { _ = try await other.get(Secret.self, name: "x") }
            await other.shutdown()
            #expect(error?.code == 401)
            _ = client
        }
    }
}
