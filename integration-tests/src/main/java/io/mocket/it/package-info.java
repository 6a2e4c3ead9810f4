/** Multi-node tests on real kernels. */
package io.mocket.it;
