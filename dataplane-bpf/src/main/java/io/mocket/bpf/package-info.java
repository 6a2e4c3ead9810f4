/** BPF C programs and Java FFM bindings to libbpf (filled by the node agent work). */
package io.mocket.bpf;
