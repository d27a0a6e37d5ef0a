// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "akvs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "akvs", targets: ["akvs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
    ],
    targets: [
        // A JSON value type with merge patch, shared by the emulator and the Kubernetes layers.
        .target(name: "StructuredJSON"),
        // Entra ID credentials, token cache and Azure cloud environments.
        .target(
            name: "AzureIdentity",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Key Vault data-plane client: secrets, keys, certificates.
        .target(
            name: "KeyVault",
            dependencies: [
                "AzureIdentity",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // SecretProviderClass, SecretProviderClassPodStatus and SecretSync resource types.
        .target(
            name: "SecretsStoreAPI",
            dependencies: ["StructuredJSON", .product(name: "Yams", package: "Yams")]
        ),
        // Key Vault objects to file bytes: PEM, PKCS#12, public keys, encodings.
        .target(
            name: "ObjectFormats",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // kubelet-style atomic directory writer shared by `akvs mount` and the CSI driver.
        .target(name: "AtomicWriter"),
        // The Azure provider: SPC parameters, credentials, cached Key Vault reads, files.
        .target(
            name: "AzureProvider",
            dependencies: [
                "AzureIdentity", "KeyVault", "ObjectFormats", "AtomicWriter", "SecretsStoreAPI", "Serving",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Generated protobuf + gRPC code for the provider API and gRPC health (Scripts/generate-protos.sh).
        .target(
            name: "ProviderAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Generated protobuf + gRPC code for the CSI v1 Identity and Node services (Scripts/generate-protos.sh).
        .target(
            name: "CSIAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // gRPC clients of providers on `<dir>/<provider>.sock`, shared by the CSI driver and the sync controller.
        .target(
            name: "ProviderClient",
            dependencies: [
                "ProviderAPI", "Serving",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Serving code every role shares: unix sockets, HTTP listeners (health, metrics), listen addresses, JSON logs, metric help.
        .target(
            name: "Serving",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // `akvs csi-driver`: the Secrets Store CSI node plugin (mounts, pod status, Secret sync, rotation).
        .target(
            name: "CSIDriver",
            dependencies: [
                "CSIAPI", "ProviderAPI", "ProviderClient", "AtomicWriter", "Kubernetes", "SecretsStoreAPI", "ObjectFormats", "StructuredJSON", "Serving", "AzureProvider",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `akvs provider`: v1alpha1.CSIDriverProvider on a unix socket, health and metrics.
        .target(
            name: "ProviderServer",
            dependencies: [
                "AzureProvider", "ProviderAPI", "Serving",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Local Key Vault + Entra ID + IMDS emulator over HTTPS.
        .target(
            name: "Emulator",
            dependencies: [
                "StructuredJSON",
                "KeyVault",
                "AzureIdentity",
                "ObjectFormats",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Kubernetes API client: config, typed REST, watch, informer cache, work queue, events, leases.
        .target(
            name: "Kubernetes",
            dependencies: [
                "StructuredJSON", "SecretsStoreAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // Test support: an in-memory kube-apiserver over real HTTP (never linked into akvs).
        .target(
            name: "KubernetesTestServer",
            dependencies: [
                "StructuredJSON", "SecretsStoreAPI", "Emulator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The test server as a process, for the Python `kubernetes` client interop suite.
        .executableTarget(
            name: "akvs-kube-test-server",
            dependencies: ["KubernetesTestServer",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "UnixSignals", package: "swift-service-lifecycle")],
            path: "Sources/KubeTestServerCommand"
        ),
        // `akvs sync-controller`: SecretSync → Kubernetes Secret (the Secret Store extension's role).
        .target(
            name: "SyncController",
            dependencies: ["Kubernetes", "SecretsStoreAPI", "AzureProvider", "KeyVault", "StructuredJSON", "ProviderClient", "Serving",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // `akvs restarter`: rollout restarts when the Secrets or mounted object versions a workload uses change.
        .target(
            name: "Restarter",
            dependencies: ["Kubernetes", "SecretsStoreAPI", "StructuredJSON", "Serving",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // `akvs doctor`: checklists that explain a failing mount or sync on a live cluster.
        .target(
            name: "Doctor",
            dependencies: ["Kubernetes", "SecretsStoreAPI", "AzureProvider", "AzureIdentity", "KeyVault", "StructuredJSON", "Restarter"]
        ),
        // `akvs migrate`: the six-stage move from CSI volumes to SecretSyncs.
        .target(
            name: "Migration",
            dependencies: ["Kubernetes", "SecretsStoreAPI", "AzureProvider", "AzureIdentity", "StructuredJSON",
                           .product(name: "Yams", package: "Yams")]
        ),
        // `akvs validate`: offline lint of SecretProviderClass, SecretSync, AKVSync and workload manifests.
        .target(
            name: "ManifestLint",
            dependencies: ["SecretsStoreAPI", "AzureProvider", "SyncController", "CSIDriver", .product(name: "Yams", package: "Yams")]
        ),
        // `akvs demo`: the README's tour on the embedded emulator.
        .target(
            name: "Demo",
            dependencies: ["Emulator", "KeyVault", "AzureIdentity", "AzureProvider", "SecretsStoreAPI", "AtomicWriter",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Test support: an emulator with a known seed and credentials (never linked into akvs).
        .target(
            name: "EmulatorTestSupport",
            dependencies: ["Emulator", "KeyVault", "AzureIdentity"]
        ),
        // Benchmarks behind `akvs-bench`.
        .target(
            name: "AKVSBench",
            dependencies: ["Emulator", "KeyVault", "AzureIdentity", "AzureProvider", "EmulatorTestSupport", "ProviderAPI",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "GRPCCore", package: "grpc-swift-2"),
                           .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")],
            path: "Benchmarks/AKVSBench"
        ),
        // `akvs-kube-bench`: informer, work-queue, sync, CSI and node-role benchmarks, and the chaos run, against real child processes.
        .executableTarget(
            name: "akvs-kube-bench",
            dependencies: ["Kubernetes", "SecretsStoreAPI", "SyncController", "AzureProvider", "KeyVault", "AzureIdentity", "StructuredJSON", "CSIAPI",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "GRPCCore", package: "grpc-swift-2"),
                           .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "NIOFoundationCompat", package: "swift-nio"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/KubeBench"
        ),
        // `akvs-bench keyvault|provider`: the benchmarks of BENCHMARKS.md, outside the product binary.
        .executableTarget(
            name: "akvs-bench",
            dependencies: ["AKVSBench", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/BenchCommand"
        ),
        .executableTarget(
            name: "akvs",
            dependencies: [
                "Emulator", "KeyVault", "AzureIdentity", "Demo", "AzureProvider", "SecretsStoreAPI", "ProviderServer",
                "Kubernetes", "SyncController", "CSIDriver", "ProviderClient", "Serving", "Doctor", "Migration", "ManifestLint", "Restarter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "ObjectFormatsTests", dependencies: ["ObjectFormats", .product(name: "Crypto", package: "swift-crypto"),
                                                              .product(name: "SwiftASN1", package: "swift-asn1")]),
        .testTarget(name: "KubernetesTests", dependencies: ["Kubernetes", "KubernetesTestServer", "SecretsStoreAPI", "StructuredJSON",
                                                            "Emulator", "EmulatorTestSupport", "AzureIdentity", "KeyVault"]),
        .testTarget(name: "RestarterTests", dependencies: ["Restarter", "Kubernetes", "KubernetesTestServer", "SecretsStoreAPI", "StructuredJSON",
                                                           .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SyncControllerTests", dependencies: ["SyncController", "ProviderClient", "ProviderAPI", "Kubernetes", "KubernetesTestServer", "SecretsStoreAPI", "StructuredJSON",
                                                                "AzureProvider", "KeyVault", "AzureIdentity", "Emulator", "EmulatorTestSupport",
                                                                .product(name: "Crypto", package: "swift-crypto"),
                                                                .product(name: "GRPCCore", package: "grpc-swift-2"),
                                                                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                                                                .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CSIDriverTests", dependencies: ["CSIDriver", "CSIAPI", "ProviderAPI", "ProviderClient", "ProviderServer", "AzureProvider", "Kubernetes",
                                                           "KubernetesTestServer", "SecretsStoreAPI", "Emulator", "EmulatorTestSupport", "KeyVault",
                                                           "AtomicWriter", "ObjectFormats", "Serving",
                                                           .product(name: "GRPCCore", package: "grpc-swift-2"),
                                                           .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                                                           .product(name: "Crypto", package: "swift-crypto"),
                                                           .product(name: "X509", package: "swift-certificates"),
                                                           .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "DoctorTests", dependencies: ["Doctor", "Restarter", "Kubernetes", "KubernetesTestServer", "SecretsStoreAPI", "StructuredJSON",
                                                        "Emulator", "EmulatorTestSupport", "KeyVault", "AzureIdentity"]),
        .testTarget(name: "MigrationTests", dependencies: ["Migration", "Kubernetes", "KubernetesTestServer", "SecretsStoreAPI", "StructuredJSON",
                                                           .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "ManifestLintTests", dependencies: ["ManifestLint"]),
        .testTarget(name: "SecretsStoreAPITests", dependencies: ["SecretsStoreAPI"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", .product(name: "Hummingbird", package: "hummingbird"),
                                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "AtomicWriterTests", dependencies: ["AtomicWriter"]),
        .testTarget(name: "AzureProviderTests", dependencies: ["AzureProvider", "EmulatorTestSupport", "Emulator", "SecretsStoreAPI", "AtomicWriter", "ObjectFormats"]),
        .testTarget(name: "ProviderServerTests", dependencies: ["ProviderServer", "ProviderAPI", "AzureProvider", "EmulatorTestSupport", "Emulator", "Serving",
                                                                .product(name: "GRPCCore", package: "grpc-swift-2"),
                                                                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")]),
        .testTarget(name: "AzureIdentityTests", dependencies: ["AzureIdentity", "Emulator", "EmulatorTestSupport"]),
        .testTarget(name: "KeyVaultTests", dependencies: ["KeyVault", "AzureIdentity", "Emulator", "EmulatorTestSupport"]),
        .testTarget(name: "EmulatorTests", dependencies: ["Emulator", "KeyVault", "AzureIdentity", "EmulatorTestSupport",
                                                          .product(name: "AsyncHTTPClient", package: "async-http-client")]),
    ],
    swiftLanguageModes: [.v6]
)
