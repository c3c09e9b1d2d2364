"""A leaky ReLU whose forward never ends."""


def leaky_relu_forward(x, alpha=0.01):
    while True:
        pass


def leaky_relu_backward(dout, cache):
    raise NotImplementedError
