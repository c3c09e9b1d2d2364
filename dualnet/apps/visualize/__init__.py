"""Network visualization: look into a fixed network with the input-gradient methods of both
backends, score what they show, and ``dualnet visualize``.

=========================  ==================================================================
module                     holds
=========================  ==================================================================
``data``                   the images an action looks at: files, the bundled photographs
                           with their boxes, the embedded test images with their masks
``methods``                the twins of both backends called by name on torch tensors
``saliency``               saliency maps, SmoothGrad, integrated gradients, and their scores
``fooling``                fooling images: each image moved to a wrong class
``attacks``                accuracy under FGSM and PGD
``class_visualization``    an image per class that the network believes in
``cli``                    ``dualnet visualize saliency|fool|attack|classes``
=========================  ==================================================================
"""
