import Foundation

/// The application in a pod: reads its mounted volume every second, as an app would, and checks the
/// file set is complete and from one `..data` generation, with values the vault really held, never older.
struct VolumeReader: Sendable {
    let volume: ChaosWorld.Volume
    let target: String
    let world: ChaosWorld
    let ledger: ChaosLedger
    let recorder: ChaosRecorder
    let consumers: ConsumerState
    let lag: Duration

    func run() async {
        var last: [Int: Int] = [:]
        while !Task.isCancelled {
            await check(&last)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func check(_ last: inout [Int: Int]) async {
        let fm = FileManager.default
        for attempt in 0..<3 {
            guard let before = try? fm.destinationOfSymbolicLink(atPath: target + "/..data") else {
                await recorder.violation(.volumeFiles, "volume \(volume.index): \(target)/..data is missing")
                return
            }
            var contents: [Int: Data] = [:]
            var problems: [String] = []
            for object in volume.objects {
                let name = world.objects[object].name
                guard let data = fm.contents(atPath: target + "/" + name) else {
                    problems.append("file \(name) missing")
                    await consumers.remove("volume/\(volume.index)/\(name)")
                    continue
                }
                if data.isEmpty { problems.append("file \(name) empty") }
                contents[object] = data
            }
            let after = try? fm.destinationOfSymbolicLink(atPath: target + "/..data")
            if after != before, attempt < 2 { await recorder.note("volume swapped during a read (re-read)"); continue }
            // Same generation throughout: what the top-level names showed must be that generation's files.
            for (object, data) in contents {
                let name = world.objects[object].name
                if let inGeneration = fm.contents(atPath: target + "/" + before + "/" + name), inGeneration != data, after == before {
                    problems.append("file \(name) differs from its ..data generation (mixed versions)")
                }
            }
            for (object, data) in contents where !data.isEmpty {
                let name = world.objects[object].name
                guard let gen = await ledger.generation(of: data, object: object, pem: nil) else {
                    problems.append("file \(name) holds no value the vault had (\(data.count) bytes: truncated or foreign)")
                    continue
                }
                if let previous = last[object], gen < previous { problems.append("file \(name) went back from generation \(previous) to \(gen)") }
                last[object] = max(gen, last[object] ?? 0)
                await consumers.set("volume/\(volume.index)/\(name)", object: object, gen: gen, lag: lag)
            }
            await recorder.checked(.volumeFiles)
            for p in problems { await recorder.violation(.volumeFiles, "volume \(volume.index) (\(volume.namespace)/\(volume.spc)): \(p)") }
            return
        }
    }
}
