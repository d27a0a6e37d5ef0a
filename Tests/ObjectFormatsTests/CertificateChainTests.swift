import Testing
import ObjectFormats

@Suite("CertificateChain", .enabled(if: hasOpenSSL))
struct CertificateChainTests {
    static func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { index -> [[T]] in
            var rest = items
            let head = rest.remove(at: index)
            return permutations(rest).map { [head] + $0 }
        }
    }

    @Test("orders every permutation leaf → intermediate → root by key identifiers")
    func keyIdentifiers() throws {
        let f = try Fixtures.shared()
        let expected = [f.leaf, f.intermediate, f.root].map(\.certificate)
        for permutation in Self.permutations(expected) {
            let result = CertificateChain.order(permutation)
            #expect(result.complete)
            #expect(result.ordered == expected)
        }
    }

    @Test("falls back to issuer and subject names without key identifiers")
    func names() throws {
        let f = try Fixtures.shared()
        let expected = [f.plainLeaf, f.plainIntermediate, f.plainRoot].map(\.certificate)
        for permutation in Self.permutations(expected) {
            let result = CertificateChain.order(permutation)
            #expect(result.complete)
            #expect(result.ordered == expected)
        }
    }

    @Test("keeps the original order when the chain is incomplete")
    func incomplete() throws {
        let f = try Fixtures.shared()
        let gap = [f.root.certificate, f.leaf.certificate]
        #expect(CertificateChain.order(gap) == (gap, false))
        let unrelated = [f.rsa.certificate, f.leaf.certificate, f.intermediate.certificate]
        #expect(CertificateChain.order(unrelated) == (unrelated, false))
        let garbage = [f.leaf.certificate, [0x30, 0x00]]
        #expect(CertificateChain.order(garbage) == (garbage, false))
        let duplicate = [f.root.certificate, f.root.certificate]
        #expect(CertificateChain.order(duplicate) == (duplicate, false))
    }

    @Test("zero or one certificate is complete")
    func trivial() throws {
        let f = try Fixtures.shared()
        #expect(CertificateChain.order([]) == ([], true))
        #expect(CertificateChain.order([f.rsa.certificate]) == ([f.rsa.certificate], true))
    }
}
