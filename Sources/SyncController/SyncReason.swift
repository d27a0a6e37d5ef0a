import Foundation
import SecretsStoreAPI

/// Condition types and reasons in the vocabulary of the released upstream controller (v0.0.x) and Azure's
/// Secret Store extension, so dashboards, alerts and `kubectl wait` keep working.
public enum SyncReason: String, Sendable, CaseIterable {
    case createSucceeded = "CreateSucceeded"
    case updateNoValueChangeSucceeded = "UpdateNoValueChangeSucceeded"
    case updateValueChangeOrForceUpdateSucceeded = "UpdateValueChangeOrForceUpdateSucceeded"
    case partialSync = "PartialSync"
    case providerError = "ProviderError"
    case userInputValidationFailed = "UserInputValidationFailed"
    case controllerSPCError = "ControllerSPCError"
    case invalidClusterSecretLabelError = "InvalidClusterSecretLabelError"
    case invalidClusterSecretAnnotationError = "InvalidClusterSecretAnnotationError"
    case controllerInternalError = "ControllerInternalError"
    case controllerSyncFailed = "ControllerSyncFailed"

    public var succeeded: Bool { [.createSucceeded, .updateNoValueChangeSucceeded, .updateValueChangeOrForceUpdateSucceeded].contains(self) }

    /// The fixed messages of the success reasons (failures carry their own).
    public var defaultMessage: String {
        switch self {
        case .createSucceeded: return "The secret was created successfully."
        case .updateNoValueChangeSucceeded: return "The secret was updated successfully at the end of the poll interval and no value change was detected."
        case .updateValueChangeOrForceUpdateSucceeded: return "The secret was updated successfully: a value change or a force update was detected."
        default: return rawValue
        }
    }
}

/// Condition types.
public enum SyncConditionType {
    public static let create = "Create"
    public static let update = "Update"
}

extension SecretSync.Status {
    /// Sets a condition, keeping lastTransitionTime when the status does not change.
    mutating func set(_ type: String, status: Bool, reason: SyncReason, message: String, generation: Int64?, now: Date) {
        var list = conditions ?? []
        let statusText = status ? "True" : "False"
        if let index = list.firstIndex(where: { $0.type == type }) {
            let transition = list[index].status == statusText ? list[index].lastTransitionTime : APITime.string(now)
            list[index] = Condition(type: type, status: statusText, observedGeneration: generation, lastTransitionTime: transition,
                                    reason: reason.rawValue, message: message)
        } else {
            list.append(Condition(type: type, status: statusText, observedGeneration: generation, lastTransitionTime: APITime.string(now),
                                  reason: reason.rawValue, message: message))
        }
        conditions = list
    }

    func condition(_ type: String) -> Condition? { conditions?.first { $0.type == type } }
}
