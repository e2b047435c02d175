"""Shared functional geometry kernels (numpy / scipy / torch), one implementation each.

=================  ==============================================================================
``weld``           ``weld`` (one frame, grid snap), ``weld_over_time`` (coincide in every frame)
``graph``          ``face_edges``, ``unique_edges``, ``adjacency``, ``edge_graph``, ``components``,
                   ``edge_components``, ``graph_components``, ``mesh_graph`` (+ links between pieces)
``laplacian``      ``cotangent_laplacian`` (PSD), ``cotangent_weights``, ``mass_matrix`` (lumped)
``sampling``       ``sample_surface`` (area-weighted)
``rigid``          ``kabsch``, ``rotation_from_covariance``, ``fit_part_transforms``, ``to_matrix``, ``apply``
``lbs``            ``linear_blend_skinning`` (torch, batched, differentiable)
``rotations``      ``axis_angle_matrix`` (Rodrigues via scipy), ``rotation_between``
``bbox``           ``bbox``, ``bbox_diagonal``, ``normalize_to_unit_box``
``_reference``     slow references the tests compare every fast path against
=================  ==============================================================================

Depends only on ``sdk.core`` / ``sdk.errors`` (layer 2 of docs/architecture.md). Modules are imported explicitly
(``from sdk.geometry.graph import components``) so that numpy-only callers do not load torch.
"""
