"""SubjectAccessReview on the test server, asked through the official client as `kubectl auth can-i --as` does.

The test server evaluates RBAC the way kube-apiserver's authorizer does: ClusterRoleBindings everywhere,
RoleBindings in their namespace, subresources as `resource/subresource`, resourceNames, and the groups a
service account belongs to.
"""

from __future__ import annotations

from kubernetes import client

from conftest import unique_name


def review(api, user, namespace, resource, verb="create", subresource="", name="", groups=None):
    body = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=user, groups=groups, resource_attributes=client.V1ResourceAttributes(
            namespace=namespace, verb=verb, group="", resource=resource, subresource=subresource, name=name)))
    return api.create_subject_access_review(body).status


def test_role_binding_grants_only_in_its_namespace(core):
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    authz = client.AuthorizationV1Api(core.api_client)
    ns, other = unique_name("sar"), unique_name("sar")
    for name in (ns, other):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    rbac.create_namespaced_role(ns, client.V1Role(metadata=client.V1ObjectMeta(name="tokens"), rules=[
        client.V1PolicyRule(api_groups=[""], resources=["serviceaccounts/token"], verbs=["create"], resource_names=["app"])]))
    rbac.create_namespaced_role_binding(ns, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="tokens"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="tokens"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="ctrl", namespace="kube-system")]))
    user = "system:serviceaccount:kube-system:ctrl"

    allowed = review(authz, user, ns, "serviceaccounts", subresource="token", name="app")
    assert allowed.allowed is True
    assert allowed.reason == f'RBAC: allowed by RoleBinding "tokens/{ns}" of Role "tokens" to ServiceAccount "ctrl/kube-system"'
    assert review(authz, user, ns, "serviceaccounts", subresource="token", name="other").allowed is False
    assert review(authz, user, other, "serviceaccounts", subresource="token", name="app").allowed is False
    assert review(authz, user, ns, "serviceaccounts", name="app").allowed is False  # the subresource is not the resource
    assert review(authz, "system:serviceaccount:kube-system:someone", ns, "serviceaccounts", subresource="token", name="app").allowed is False


def test_cluster_role_binding_to_a_group(core):
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    authz = client.AuthorizationV1Api(core.api_client)
    role = unique_name("reader")
    rbac.create_cluster_role(client.V1ClusterRole(metadata=client.V1ObjectMeta(name=role), rules=[
        client.V1PolicyRule(api_groups=["*"], resources=["secrets"], verbs=["get", "list"])]))
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=role),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
        subjects=[client.RbacV1Subject(kind="Group", name="system:serviceaccounts:team", api_group="rbac.authorization.k8s.io")]))
    assert review(authz, "system:serviceaccount:team:bot", "anywhere", "secrets", verb="list").allowed is True
    assert review(authz, "system:serviceaccount:other:bot", "anywhere", "secrets", verb="list").allowed is False
    assert review(authz, "system:serviceaccount:team:bot", "anywhere", "secrets", verb="delete").allowed is False
    assert review(authz, "alice", "anywhere", "secrets", verb="delete", groups=["system:masters"]).allowed is True
