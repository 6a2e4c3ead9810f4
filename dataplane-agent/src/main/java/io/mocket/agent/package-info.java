/** Node agent: workload xDS client that programs eBPF maps and xfrm states (filled by the node agent work). */
package io.mocket.agent;
