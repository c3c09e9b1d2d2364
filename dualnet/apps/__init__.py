"""The five applications (``classify``, ``visualize``, ``style``, ``caption``, ``gan``), each a
package with the same few modules where it needs them (``cli``, ``config``, ``train``,
``evaluate``, ``data``), on one shared run machinery:

=================  ==========================================================================
module             holds
=================  ==========================================================================
``runtime``        the device, the processes of a data-parallel run, seeds, Ctrl-C
``loop``           what every training loop needs, as plain helpers, and ``TrainResult``
``runs``           the run directory, its files and checkpoints
``settings``       each setting declared once, on its configuration's field
``flags``          the flags every action spells the same way
``output``         the printed summary and one-line errors
``figures``        matplotlib figures
``networks``       every network an application loads
``pretrained``     torchvision's ImageNet weight files
=================  ==========================================================================
"""
