// libFuzzer target: the test server's JSON patch, merge patch and strategic merge patch. The input is a
// JSON document, a newline, then a patch. Every patch either applies or fails with an APIError, and the
// merge patches follow RFC 7386's laws.
import Foundation
import StructuredJSON
@testable import KubernetesTestServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
    guard let document = try? JSONValue.parse(Data(bytes[..<newline])),
          let patch = try? JSONValue.parse(Data(bytes[min(newline + 1, bytes.endIndex)...])) else { return 0 }

    let merged = document.mergePatched(with: patch)
    // Applying the same merge patch twice changes nothing more (RFC 7386 patches are idempotent).
    precondition(merged.mergePatched(with: patch) == merged, "merge patch is not idempotent")
    let strategic = StrategicMerge.apply(patch, to: document)
    _ = StrategicMerge.apply(patch, to: strategic)
    do {
        let patched = try JSONPatch.apply(patch, to: document)
        _ = patched.encoded()
    } catch {
        precondition(!error.message.isEmpty, "empty json patch error")
    }
    return 0
}
