package io.mocket.agent;

/**
 * A resource the agent cannot apply: malformed, oversized, or one that does not fit into a full BPF map.
 * The message names the resource and the problem; it goes back to the control plane in the NACK.
 */
public final class InvalidResourceException extends Exception {

    private final String resourceName;
    private final String problem;

    public InvalidResourceException(String resourceName, String problem) {
        super(resourceName + ": " + problem);
        this.resourceName = resourceName;
        this.problem = problem;
    }

    /** What is wrong, without the name. */
    public String problem() {
        return problem;
    }

    /** The xDS name of the resource. */
    public String resourceName() {
        return resourceName;
    }
}
