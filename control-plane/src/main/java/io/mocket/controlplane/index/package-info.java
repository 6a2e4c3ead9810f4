/**
 * The ambient index: Kubernetes objects in, Istio workload API resources out ({@code istio.workload.Address}
 * for pods and Services, {@code istio.security.Authorization} for AuthorizationPolicies), built the way
 * istiod builds them for ztunnel so that ztunnel and Kmesh clients can use Mocket's control plane unchanged.
 *
 * <h2>What an event marks dirty</h2>
 * Only outputs whose content can depend on the change are recomputed:
 * <ul>
 *   <li>Pod: its own workload (nothing else reads pods).</li>
 *   <li>Service: the service; and, when its selector, ports or servedness changed, the pods of its namespace
 *       selected before or after (they list it in {@code services}).</li>
 *   <li>Namespace: when its labels or annotations changed, its pods and services (enrollment, use-waypoint,
 *       traffic distribution).</li>
 *   <li>Node: when its topology labels changed, the pods on it (status updates and heartbeats mark nothing).</li>
 *   <li>AuthorizationPolicy: its authorization; and, when the set of workloads that list it changed (selector
 *       of the version in force, or whether it is served), the pods selected before or after, mesh-wide for the
 *       root namespace.</li>
 *   <li>Gateway: when the waypoint it makes changed, the pods and services whose own label or whose
 *       namespace's label names it, and its instance pods.</li>
 *   <li>PeerAuthentication: nothing (it is resolved on demand and not served yet).</li>
 * </ul>
 *
 * <h2>Where Mocket differs from istiod, on purpose</h2>
 * <ul>
 *   <li>Enrollment comes from the {@code istio.io/dataplane-mode} labels (istio-cni's default selectors),
 *       because no istio-cni annotates pods in a Mocket cluster; istiod's annotation is honoured too.
 *       Enrolled workloads carry the {@code mocket.io/mtls-lite} extension.</li>
 *   <li>{@code workload_type} is derived from the controller (istiod has sent POD since 1.26).</li>
 *   <li>An AuthorizationPolicy with a field that cannot be read (bad CIDR, port, action, shape) is reported and
 *       handled as described below; istiod relies on its admission webhook and drops bad values silently.</li>
 *   <li>Not built: EndpointSlice-based membership of selector-less Services, ServiceEntry/WorkloadEntry,
 *       multi-network gateways, canary waypoints, implicit waypoint policies, and the Authorization resources
 *       istiod derives from PeerAuthentication.</li>
 * </ul>
 *
 * <h2>Invalid AuthorizationPolicies</h2>
 * On a cluster most malformed policies are refused at admission (the CRD schema, istiod's validating webhook);
 * they reach the index from files, from clusters without the webhook, or from newer API versions. Two rules
 * apply: the error is reported where it is seen (a WARN naming the policy, its version, the field, the problem
 * and the fix; the debug endpoint; {@code mocket.authorization.invalid} tagged with the outcome), and the last
 * good state keeps serving; where there is none, authorization fails closed.
 * <ul>
 *   <li><b>It was valid before</b> ({@code kept_last_good}): the last valid version keeps serving unchanged, the
 *       same bytes and the same workloads listing it, until a valid version or a delete arrives. Serving a
 *       stand-in instead would change enforcement because of a typo in an edit; the price is that what the bad
 *       edit meant to add is not enforced until it is fixed. The last good version lives in memory only: a
 *       restarted control plane, or a replica that never saw it, treats the policy as never valid (below).</li>
 *   <li><b>Never valid, ALLOW</b> ({@code allow_nothing}): an ALLOW Authorization with no groups, scope and
 *       selector as if valid, so the selected workloads list it. ztunnel matches nothing against a policy
 *       without rules and denies a connection when ALLOW policies apply and none matches: the workloads accept
 *       only what their other ALLOW policies allow. Skipping it instead would leave a workload whose only ALLOW
 *       it was open to everything.</li>
 *   <li><b>Never valid, DENY</b> ({@code deny_widened}): the rules as far as they can be read, each unreadable
 *       condition read as matching every connection. Serving nothing fails open for exactly the traffic the policy
 *       was written to deny; serving deny-all turns one bad value in one rule into an outage of every workload
 *       in scope (of the mesh, for the root namespace). Reading what cannot be read as "matches" is the
 *       narrowest answer that still denies at least what was written, and it is istiod's own rule for what
 *       cannot be checked: it serves an ambient DENY rule with HTTP attributes to ztunnel without them, denying
 *       more than requested, and its sidecar builder turns a CUSTOM policy whose provider cannot be used into a
 *       deny of the policy's rules. Concretely: an unreadable field is left out of its Match; a Match left empty that way makes its
 *       whole clause match (it is not sent empty: ztunnel skips an empty Match, which would deny nothing, as
 *       istiod's silent dropping of bad IPs and ports does); a rule or rule list that cannot be read at all
 *       denies every connection in scope.</li>
 *   <li><b>Never valid, unreadable action</b> ({@code allow_nothing}): read as ALLOW, the API's default. If ALLOW
 *       was meant this is exactly fail-closed; if DENY was meant, the selected workloads still accept what their
 *       other ALLOW policies allow, but nothing else, while deny-all would be an outage of the whole scope for a
 *       misspelt word. <b>AUDIT or CUSTOM</b> ({@code skipped}): nothing, as for a valid version.</li>
 *   <li><b>Unreadable selector</b>: a label whose value cannot be read is left out and a selector that cannot be
 *       read at all selects every workload of the namespace (of the mesh in the root namespace), with the ALLOW
 *       or DENY above. Then the policy applies to at least the workloads it was written for; applying it to
 *       none would fail open for them. The WARN and the debug endpoint say how far it was widened.</li>
 *   <li><b>Deleted</b>: removed whatever its validity, together with its last good version.</li>
 * </ul>
 */
package io.mocket.controlplane.index;
