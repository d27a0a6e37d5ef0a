import Foundation

/// Looks for canary values where none may be: every log line of the product processes, Events,
/// SecretSync and SecretProviderClassPodStatus objects (status messages), every /metrics page, and the
/// error strings kubelet received. Any canary marker there is a leak.
actor LeakScanner {
    let logFiles: [URL]
    let metricsURLs: [String]
    let apiURLs: [String]
    let apiToken: String
    let http: ChaosHTTP
    let recorder: ChaosRecorder
    private var offsets: [URL: UInt64] = [:]
    private var errorStrings: Set<String> = []
    private(set) var scannedBytes = 0
    private var reported: Set<String> = []

    init(logFiles: [URL], metricsURLs: [String], apiURLs: [String], apiToken: String, http: ChaosHTTP, recorder: ChaosRecorder) {
        self.logFiles = logFiles; self.metricsURLs = metricsURLs; self.apiURLs = apiURLs; self.apiToken = apiToken
        self.http = http; self.recorder = recorder
    }

    /// An error message a caller received (kept, bounded, for the scan).
    func error(_ message: String) { if errorStrings.count < 2_000 { errorStrings.insert(message) } }

    func run(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await scan()
        }
    }

    func scan() async {
        for file in logFiles {
            guard let handle = try? FileHandle(forReadingFrom: file) else { continue }
            let offset = offsets[file] ?? 0
            try? handle.seek(toOffset: offset)
            let data = handle.readDataToEndOfFile()
            try? handle.close()
            offsets[file] = offset + UInt64(data.count)
            await look(String(decoding: data, as: UTF8.self), in: "log \(file.lastPathComponent)")
        }
        for url in metricsURLs {
            if let body = try? await http.call(.GET, url, timeout: .seconds(5)).body { await look(body, in: "metrics \(url)") }
        }
        for url in apiURLs {
            if let r = try? await http.call(.GET, url, bearer: apiToken, timeout: .seconds(20)), r.status == 200 { await look(r.body, in: "API \(url)") }
        }
        for message in errorStrings { await look(message, in: "an error kubelet received") }
        await recorder.checked(.secretLeak)
    }

    private func look(_ text: String, in source: String) async {
        scannedBytes += text.utf8.count
        for marker in [ChaosLedger.marker, ChaosLedger.markerBase64] where text.contains(marker) {
            let line = text.split(separator: "\n").first { $0.contains(marker) }.map(String.init) ?? ""
            let key = source + "|" + line.prefix(80)
            guard !reported.contains(key) else { continue }
            reported.insert(key)
            // Name where, never what: the line is cut before the marker.
            let context = line.components(separatedBy: marker).first?.suffix(60) ?? ""
            await recorder.violation(.secretLeak, "a canary value appears in \(source), after \"\(context)\"")
        }
    }
}
