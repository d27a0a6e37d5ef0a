import Foundation
import Testing
@testable import ProviderClient

/// The attributes and secrets of a provider Mount request are JSON objects any JSON parser reads back unchanged.
@Suite struct ProviderRequestTests {
    @Test func attributesRoundTripThroughAJSONParser() throws {
        let map = ["objects": "array:\n  - |\n    objectName: \"db\"\n    objectType: secret\n", "quote\"back\\slash": "tab\tcr\rnul\u{0}bell\u{7}",
                   "csi.storage.k8s.io/pod.name": "web-0", "unicode": "zürich ✓ 🔑", "": "", "slash/": "</script>"]
        let text = ProviderClients.json(map)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(parsed == map)
    }

    @Test func keysAreSortedAndTheEmptyMapIsAnObject() {
        #expect(ProviderClients.json([:]) == "{}")
        #expect(ProviderClients.json(["b": "2", "a": "1"]) == #"{"a":"1","b":"2"}"#)
        #expect(ProviderClients.json(["x": "\u{1f}"]) == #"{"x":"\u001f"}"#)
    }
}
