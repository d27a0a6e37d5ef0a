import Foundation
import Glibc
import Testing
@testable import CSIDriver

/// Mount points are recognised by device, and on the same device (a bind mount) by statx's mount-root attribute.
@Suite(.serialized) struct MounterTests {
    @Test(.enabled(if: getuid() == 0, "mounts need root"))
    func tmpfsAndBindMountsAreMountPointsAndPlainDirectoriesAreNot() throws {
        let base = "/tmp/akvs-mounter-\(UUID().uuidString.prefix(8))"
        let plain = base + "/plain", tmpfs = base + "/tmpfs", bound = base + "/bound"
        for dir in [plain, bound] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        defer {
            umount2(bound, Int32(MNT_DETACH)); umount2(tmpfs, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: base)
        }
        let mounter = Mounter()
        try mounter.mount(at: tmpfs)
        #expect(mounter.isMountPoint(tmpfs))
        #expect(!mounter.isMountPoint(plain))
        #expect(!mounter.isMountPoint(base + "/missing"))
        #expect(Mounter.isMountRoot(plain) == false)
        // A bind mount of a directory of the same filesystem keeps the device.
        #expect(Glibc.mount(plain, bound, "", UInt(MS_BIND), nil) == 0)
        #expect(mounter.isMountPoint(bound))
        #expect(Mounter.isMountRoot(bound) == true)
        try mounter.unmount(bound)
        #expect(!mounter.isMountPoint(bound))
    }
}
