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
 *   <li>AuthorizationPolicy: its authorization; and, when the set of workloads that list it changed (selector,
 *       or whether it is served), the pods selected before or after, mesh-wide for the root namespace.</li>
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
 *   <li>An AuthorizationPolicy with a field that cannot be read (bad CIDR, port, action, shape) is not
 *       served and is reported; istiod relies on its admission webhook and drops bad entries silently.</li>
 *   <li>Not built: EndpointSlice-based membership of selector-less Services, ServiceEntry/WorkloadEntry,
 *       multi-network gateways, canary waypoints, implicit waypoint policies, and the Authorization resources
 *       istiod derives from PeerAuthentication.</li>
 * </ul>
 */
package io.mocket.controlplane.index;
