"""Networks: K stacked models of one shape, activations, hand-written stacked ops, the image
architectures, pruning masks, the activation search space, and the stack a run trains."""
