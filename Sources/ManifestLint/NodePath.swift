import Yams

extension Node {
    /// The resolved tag (`str`, `int`, `bool`, `null`, …); Yams keeps `Tag.name` internal.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.description) }

    /// The value of `key` in a mapping, with the key node (for pointing at a field whose value is a collection).
    func entry(_ key: String) -> (key: Node, value: Node)? {
        guard case .mapping(let mapping) = self else { return nil }
        return mapping.first { $0.key.string == key }.map { ($0.key, $0.value) }
    }

    /// A plain or quoted scalar's text; nil for collections and nulls.
    var text: String? {
        guard case .scalar(let scalar) = self, tagName != .null else { return nil }
        return scalar.string
    }

    /// Whether this is an explicit or implicit YAML null (`~`, `null`, nothing).
    var isNull: Bool { if case .scalar = self { return tagName == .null }; return false }

    /// The node a field path points at (`spec.secretObject.data[0].targetKey`; map keys may contain dots), or the
    /// deepest node on the way when the field is missing. Collections are located at their key.
    func locate(_ path: String) -> Node {
        var node = self
        var at = self
        var rest = Substring(path)
        while !rest.isEmpty {
            if rest.hasPrefix(".") { rest = rest.dropFirst() }
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                guard let index = Int(rest[rest.index(after: rest.startIndex)..<close]), case .sequence(let items) = node,
                      items.indices.contains(index) else { return at }
                node = items[index]; at = node
                rest = rest[rest.index(after: close)...]
                continue
            }
            guard case .mapping(let mapping) = node else { return at }
            // The longest key that the rest of the path starts with, followed by the end, '.' or '['.
            let match = mapping.compactMap { pair -> (Node, Node, Int)? in
                guard let key = pair.key.string, rest.hasPrefix(key) else { return nil }
                let after = rest.dropFirst(key.count)
                guard after.isEmpty || after.hasPrefix(".") || after.hasPrefix("[") else { return nil }
                return (pair.key, pair.value, key.count)
            }.max { $0.2 < $1.2 }
            guard let (key, value, length) = match else { return at }
            node = value
            if case .scalar = value, !value.isNull { at = value } else { at = key }
            rest = rest.dropFirst(length)
        }
        return at
    }
}
