"""ValidatingAdmissionPolicies evaluated with a CEL interpreter (cel-python) the way kube-apiserver does: the binding
(validationActions Deny), matchConstraints (resource rules and namespaceSelector), matchConditions, variables, then
validations with their messageExpression. An evaluation error counts as a denial (failurePolicy Fail).

cel-python has CEL's standard library only; the Kubernetes string extensions the policies use (lowerAscii, trim,
join) are added here with the API server's meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import celpy
from celpy import celtypes


def _lower_ascii(s: Any) -> celtypes.StringType:
    return celtypes.StringType("".join(c.lower() if c.isascii() else c for c in str(s)))


def _trim(s: Any) -> celtypes.StringType:
    # Go's strings.TrimSpace, which the Kubernetes CEL library uses: Unicode white space at both ends.
    return celtypes.StringType(str(s).strip())


def _join(items: Any, separator: Any = celtypes.StringType("")) -> celtypes.StringType:
    return celtypes.StringType(str(separator).join(str(i) for i in items))


KUBERNETES_FUNCTIONS = {"lowerAscii": _lower_ascii, "trim": _trim, "join": _join}

_env = celpy.Environment()
_programs: Dict[str, Any] = {}


def evaluate(expression: str, activation: Dict[str, Any]) -> Any:
    """Evaluates with plain JSON values in the activation (CEL values are passed through)."""
    program = _programs.get(expression)
    if program is None:
        program = _programs[expression] = _env.program(_env.compile(expression), functions=KUBERNETES_FUNCTIONS)
    return program.evaluate({k: v if isinstance(v, celtypes.MapType) else celpy.json_to_cel(v) for k, v in activation.items()})


def selector_matches(selector: Optional[dict], labels: Dict[str, str]) -> bool:
    """A LabelSelector against labels; an empty (or missing) selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass
class Request:
    operation: str
    group: str
    resource: str
    namespace: str
    name: str
    object: Optional[dict]
    old_object: Optional[dict] = None
    user: str = "alice"
    namespace_labels: Dict[str, str] = field(default_factory=dict)


@dataclass
class Denial:
    policy: str
    message: str
    reason: str


class Policies:
    """The ValidatingAdmissionPolicies (and their bindings) of a rendered chart."""

    def __init__(self, objects: List[dict]):
        self.policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"}
        self.bindings = {o["spec"]["policyName"]: o for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding"}
        for name in self.policies:
            assert name in self.bindings, f"policy {name} has no binding"
            assert self.bindings[name]["spec"]["validationActions"] == ["Deny"], name

    def matches(self, policy: dict, request: Request) -> bool:
        constraints = policy["spec"]["matchConstraints"]
        rules = constraints["resourceRules"]
        if not any(request.operation in r["operations"] and request.resource in r["resources"]
                   and request.group in r.get("apiGroups", [""]) for r in rules):
            return False
        labels = {"kubernetes.io/metadata.name": request.namespace, **request.namespace_labels}
        if "namespaceSelector" in constraints and not selector_matches(constraints["namespaceSelector"], labels):
            return False
        binding_resources = self.bindings[policy["metadata"]["name"]]["spec"].get("matchResources") or {}
        if "namespaceSelector" in binding_resources and not selector_matches(binding_resources["namespaceSelector"], labels):
            return False
        return True

    def review(self, request: Request) -> List[Denial]:
        """Every denial the request meets (empty: admitted)."""
        denials: List[Denial] = []
        cel_request = {"operation": request.operation, "namespace": request.namespace, "name": request.name,
                       "userInfo": {"username": request.user}}
        for name, policy in sorted(self.policies.items()):
            if not self.matches(policy, request):
                continue
            spec = policy["spec"]
            base = {"request": cel_request, "object": request.object, "oldObject": request.old_object}
            try:
                if not all(bool(evaluate(c["expression"], base)) for c in spec.get("matchConditions", [])):
                    continue
            except Exception as e:  # an error in a match condition with failurePolicy Fail denies
                denials.append(Denial(name, f"matchCondition error: {e}", "Invalid"))
                continue
            variables: Dict[str, Any] = {}
            failed_variables: Dict[str, Exception] = {}
            for v in spec.get("variables", []):
                try:
                    variables[v["name"]] = evaluate(v["expression"], {**base, "variables": self._cel_map(variables)})
                except Exception as e:
                    failed_variables[v["name"]] = e
            for validation in spec["validations"]:
                activation = {**base, "variables": self._cel_map(variables)}
                try:
                    ok = bool(evaluate(validation["expression"], activation))
                except Exception as e:  # an evaluation error with failurePolicy Fail denies
                    denials.append(Denial(name, f"expression error: {e}; variables that failed: {sorted(failed_variables)}", "Invalid"))
                    continue
                if ok:
                    continue
                message = validation.get("message") or f"failed expression: {validation['expression']}"
                if "messageExpression" in validation:
                    try:
                        message = str(evaluate(validation["messageExpression"], activation))
                    except Exception as e:
                        message = f"messageExpression error: {e}"
                denials.append(Denial(name, message, validation.get("reason", "Invalid")))
        return denials

    @staticmethod
    def _cel_map(values: Dict[str, Any]) -> celtypes.MapType:
        return celtypes.MapType({celtypes.StringType(k): v for k, v in values.items()})
