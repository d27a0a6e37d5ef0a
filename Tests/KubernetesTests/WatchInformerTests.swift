import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import Testing

@Suite struct WatchInformerTests {
    @Test func watchReplaysFromResourceVersionAndSendsBookmarks() async throws {
        try await withCluster { _, client in
            let a = try await client.create(secret("a"))
            _ = try await client.create(secret("b"))
            try await client.delete(Secret.self, name: "b")
            var seen: [String] = []
            var bookmark = false
            for try await event in client.watch(Secret.self, namespace: "default", options: .init(resourceVersion: a.metadata.resourceVersion, timeoutSeconds: 2)) {
                switch event {
                case .added(let s): seen.append("ADDED \(s.metadata.name!)")
                case .modified(let s): seen.append("MODIFIED \(s.metadata.name!)")
                case .deleted(let s): seen.append("DELETED \(s.metadata.name!)")
                case .bookmark: bookmark = true
                case .initialEventsEnd: Issue.record("an initial-events-end bookmark on a watch that did not ask for initial events")
                }
                if bookmark && seen.count >= 2 { break }
            }
            #expect(seen == ["ADDED b", "DELETED b"])
            #expect(bookmark)
        }
    }

    @Test func watchFromCompactedVersionIsGone() async throws {
        try await withCluster { server, client in
            let a = try await client.create(secret("a"))
            _ = try await client.create(secret("b"))
            await server.compact()
            let error = await kubeError {
                for try await _ in client.watch(Secret.self, namespace: "default", options: .init(resourceVersion: a.metadata.resourceVersion, timeoutSeconds: 2)) {}
            }
            #expect(error?.isGone == true)
        }
    }

    @Test func watchSelectorTurnsLabelChangesIntoAddAndDelete() async throws {
        try await withCluster { _, client in
            let start = try await client.create(secret("x", labels: ["app": "other"]))
            var s = start
            s.metadata.labels = ["app": "web"]
            s = try await client.update(s)
            s.metadata.labels = ["app": "gone"]
            _ = try await client.update(s)
            var seen: [String] = []
            for try await event in client.watch(Secret.self, namespace: "default",
                                                options: .init(resourceVersion: start.metadata.resourceVersion, labelSelector: "app=web", allowBookmarks: false, timeoutSeconds: 1)) {
                if case .added = event { seen.append("ADDED") }
                if case .deleted = event { seen.append("DELETED") }
                if seen.count == 2 { break }
            }
            #expect(seen == ["ADDED", "DELETED"])
        }
    }

    @Test func informerSyncsResumesAfterDroppedWatchAndRelistsAfterGone() async throws {
        try await withCluster { server, client in
            for i in 0..<30 { _ = try await client.create(secret("pre\(i)", labels: ["n": "\(i % 3)"])) }
            let informer = Informer<Secret>(client: client, namespace: nil, pageSize: 7, initialSync: .list)
            let events = await informer.events()
            let run = Task { await informer.run() }
            defer { run.cancel() }
            await informer.waitForSync()
            #expect(await informer.count == 30)
            #expect(await informer.list(label: "n", value: "1").count == 10)
            #expect(await informer.list(namespace: "default").count == 30)

            _ = try await client.create(secret("live"))
            try await eventually("live in cache") { await informer.get(namespace: "default", name: "live") != nil }

            // A dropped watch resumes from the last resourceVersion: nothing is missed, no relist.
            await server.dropWatches()
            _ = try await client.create(secret("after-drop"))
            try await eventually("after-drop in cache") { await informer.get(namespace: "default", name: "after-drop") != nil }
            #expect(await informer.listCount == 1)

            // History lost (410): the informer lists again and converges, including deletions it missed.
            await server.setFaults(.init(rejectWatches: true))
            await server.dropWatches()
            try await client.delete(Secret.self, name: "pre0")
            _ = try await client.create(secret("after-restart"))
            await server.restart()
            await server.setFaults(.init())
            try await eventually("relist converged", timeout: .seconds(10)) {
                let added = await informer.get(namespace: "default", name: "after-restart") != nil
                let removed = await informer.get(namespace: "default", name: "pre0") == nil
                return added && removed
            }
            #expect(await informer.listCount >= 2)
            #expect(await informer.list(label: "n", value: "0").count == 9)

            var kinds: [String] = []
            for await event in events {
                switch event {
                case .added(let s): kinds.append("added \(s.metadata.name!)")
                case .deleted(let s): kinds.append("deleted \(s.metadata.name!)")
                case .updated: break
                }
                if kinds.contains("deleted pre0") { break }
            }
            #expect(kinds.contains("added live"))
            #expect(kinds.contains("added after-drop"))
        }
    }

    @Test func informerSyncsByWatchListWithoutAList() async throws {
        try await withCluster { server, client in
            for i in 0..<12 { _ = try await client.create(secret("pre\(i)")) }
            _ = await server.requests(reset: true)
            let informer = Informer<Secret>(client: client, namespace: nil)
            let run = Task { await informer.run() }
            defer { run.cancel() }
            await informer.waitForSync()
            #expect(await informer.count == 12)
            _ = try await client.create(secret("live"))
            try await eventually("live in cache") { await informer.get(namespace: "default", name: "live") != nil }
            let secrets = (await server.requests()).arrayValue?.filter { $0["resource"]?.stringValue == "secrets" } ?? []
            #expect(secrets.contains { $0["verb"]?.stringValue == "WATCH" })
            #expect(!secrets.contains { $0["verb"]?.stringValue == "GET" }, "no list: \(secrets)")
            #expect(await informer.watchListRefused == false)
            #expect(await informer.listCount == 1)
        }
    }

    @Test func informerFallsBackToListAndWatchWhenWatchListIsRefused() async throws {
        try await withCluster { server, client in
            for i in 0..<5 { _ = try await client.create(secret("pre\(i)")) }
            // As recorded from kube-apiserver on etcd 3.5.1: one ERROR event answers sendInitialEvents=true.
            await server.setFaults(.init(watchListUnsupported: true))
            let informer = Informer<Secret>(client: client, namespace: nil)
            let run = Task { await informer.run() }
            defer { run.cancel() }
            await informer.waitForSync()
            #expect(await informer.count == 5)
            #expect(await informer.watchListRefused)
            _ = try await client.create(secret("live"))
            try await eventually("live in cache") { await informer.get(namespace: "default", name: "live") != nil }
            // A later resync (history gone) lists again instead of asking for watch-list once more.
            await server.setFaults(.init(rejectWatches: true, watchListUnsupported: true))
            await server.dropWatches()
            _ = try await client.create(secret("after-restart"))
            _ = await server.requests(reset: true)
            await server.restart()
            await server.setFaults(.init(watchListUnsupported: true))
            try await eventually("relisted", timeout: .seconds(10)) { await informer.get(namespace: "default", name: "after-restart") != nil }
            let secrets = (await server.requests()).arrayValue?.filter { $0["resource"]?.stringValue == "secrets" } ?? []
            #expect(secrets.contains { $0["verb"]?.stringValue == "GET" }, "\(secrets)")
        }
    }
}
