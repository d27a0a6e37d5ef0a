// libFuzzer target: PKCS#12 (PFX) bytes through the reader and on to the PEM the provider writes.
@testable import ObjectFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let der = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let contents = try PKCS12Reader.read(der)
        var blocks = 0
        for key in contents.privateKeys {
            if let canonical = try? PrivateKeyInfo.canonical(key) {
                // What is written must read back as the same PEM block.
                let decoded = PEM.decodeAll(PEM.encode(label: "PRIVATE KEY", der: canonical))
                precondition(decoded.count == 1 && decoded[0].der == canonical, "PEM round trip of a key changed it")
                blocks += 1
            }
        }
        let ordered = CertificateChain.order(contents.certificates).ordered
        precondition(ordered.count == contents.certificates.count, "chain ordering dropped or added certificates")
        blocks += ordered.count
        _ = blocks
    } catch {
        precondition(!error.description.isEmpty, "empty PKCS12Error message")
    }
    return 0
}
