import X509

/// Orders a PFX's certificates leaf → intermediates → root, like the provider's `--construct-pem-chain`.
public enum CertificateChain {
    /// Orders `certs` (DER) from leaf to root by AuthorityKeyIdentifier → SubjectKeyIdentifier, falling back to issuer → subject names.
    /// When the certificates do not form one complete chain (a gap, a cycle, several leaves or an unparsable
    /// certificate), the input order is returned with `complete == false`, as upstream does.
    public static func order(_ certs: [[UInt8]]) -> (ordered: [[UInt8]], complete: Bool) {
        guard certs.count > 1 else { return (certs, true) }
        var nodes: [Node] = []
        for der in certs {
            guard let node = Node(der) else { return (certs, false) }
            nodes.append(node)
        }

        // parent[i] is the index of the certificate that issued certificate i.
        var parent = [Int?](repeating: nil, count: nodes.count)
        var isParent = [Bool](repeating: false, count: nodes.count)
        for child in nodes.indices {
            guard let issuer = issuerIndex(of: child, in: nodes) else { continue }
            parent[child] = issuer
            isParent[issuer] = true
        }

        guard let leaf = nodes.indices.first(where: { !isParent[$0] }) else { return (certs, false) }
        var ordered: [[UInt8]] = []
        var current: Int? = leaf
        while let index = current {
            guard ordered.count < nodes.count else { return (certs, false) }  // cycle
            ordered.append(certs[index])
            current = parent[index]
        }
        guard ordered.count == certs.count else { return (certs, false) }
        return (ordered, true)
    }

    /// The first other certificate whose SubjectKeyIdentifier equals `child`'s AuthorityKeyIdentifier,
    /// or else whose subject equals `child`'s issuer. A self-issued certificate (subject == issuer) is a root
    /// and gets no issuer, even if another certificate shares its key identifier (same key, other subject).
    private static func issuerIndex(of child: Int, in nodes: [Node]) -> Int? {
        let node = nodes[child]
        guard node.issuer != node.subject else { return nil }
        if let authorityKeyID = node.authorityKeyID,
           let match = nodes.indices.first(where: { $0 != child && nodes[$0].subjectKeyID == authorityKeyID }) {
            return match
        }
        return nodes.indices.first { $0 != child && nodes[$0].subject == node.issuer }
    }

    private struct Node {
        let subject: DistinguishedName
        let issuer: DistinguishedName
        let subjectKeyID: [UInt8]?
        let authorityKeyID: [UInt8]?

        init?(_ der: [UInt8]) {
            guard let certificate = try? Certificate(derEncoded: der) else { return nil }
            subject = certificate.subject
            issuer = certificate.issuer
            let skiExtension: SubjectKeyIdentifier? = try? certificate.extensions.subjectKeyIdentifier
            let akiExtension: AuthorityKeyIdentifier? = try? certificate.extensions.authorityKeyIdentifier
            let ski = skiExtension.map { Array($0.keyIdentifier) }
            let aki = akiExtension?.keyIdentifier.map { Array($0) }
            subjectKeyID = ski?.isEmpty == false ? ski : nil
            authorityKeyID = aki?.isEmpty == false ? aki : nil
        }
    }
}
