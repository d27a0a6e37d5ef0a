// libFuzzer target: SecretProviderClass parameters as the provider receives them. The input is
// attribute lines `key=value` (`\n` in a value is a newline), a blank line, then the `objects` YAML.
// Every accepted object must name one safe file, and no two objects the same file.
@testable import AzureProvider

/// Attributes a mount always carries, so the parser gets past them to the part the input spells.
let defaults = ["keyvaultName": "kv-fuzz", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"]

func attributes(_ text: Substring) -> [String: String] {
    var result = defaults
    for line in text.split(separator: "\n") {
        guard let equals = line.firstIndex(of: "=") else { continue }
        result[String(line[..<equals])] = String(line[line.index(after: equals)...]).replacingOccurrences(of: "\\n", with: "\n")
    }
    return result
}

func check(_ objects: [KeyVaultObject]) {
    var files = Set<String>()
    for object in objects {
        precondition(FileNameRules.problem(object.fileName) == nil, "accepted unsafe file name \(object.fileName.debugDescription)")
        precondition(files.insert(object.fileName).inserted, "two objects write \(object.fileName.debugDescription)")
        precondition((0...KeyVaultObject.maxVersionHistory).contains(object.objectVersionHistory), "version history out of range")
        precondition(object.filePermission.map { (0...0o777).contains($0) } ?? true, "file permission out of range")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var attrs = defaults
    var objects = text[...]
    if let blank = text.range(of: "\n\n") {
        attrs = attributes(text[..<blank.lowerBound])
        objects = text[blank.upperBound...]
    }
    attrs["objects"] = String(objects)
    do { check(try KeyVaultObject.parseList(String(objects))) } catch { precondition(!error.description.isEmpty) }
    do {
        let parameters = try MountParameters.parse(attrs)
        check(parameters.objects)
    } catch {
        precondition(!error.description.isEmpty)
    }
    do {
        if let age = try AzureProvider.maxObjectAge(attrs) { precondition(age >= .zero, "negative max object age") }
    } catch {
        precondition(!error.description.isEmpty)
    }
    return 0
}
