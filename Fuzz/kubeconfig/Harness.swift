// libFuzzer target: the kubeconfig loader. The input is a kubeconfig; relative file references resolve
// in an empty directory, so only what the input itself carries (inline data, tokens) can be used.
import Foundation
@testable import Kubernetes

let directory: String = {
    let path = NSTemporaryDirectory() + "akvs-fuzz-kubeconfig-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let configuration = try KubernetesConfiguration.kubeconfig(yaml: text, directory: directory, source: "fuzz.kubeconfig")
        precondition(["http", "https"].contains(configuration.server.scheme ?? ""), "accepted a server that is not http(s)")
        precondition((configuration.clientCertificatePEM == nil) == (configuration.clientKeyPEM == nil), "certificate without key")
    } catch let error as KubernetesError {
        precondition(!error.description.isEmpty)
    } catch {
        preconditionFailure("kubeconfig loader threw a non-KubernetesError: \(error)")
    }
    return 0
}
