"""Optical flow for temporal consistency: estimation, backward warping, occlusion masks and the
flow-guided stabilizer.

Flow convention: a *backward* flow ``flow_{t->t-1}`` gives, for each pixel of frame t, its
displacement (dx, dy) to where it was in frame t-1; ``warp(frame_{t-1}, flow_{t->t-1}) ~= frame_t``.
Torch flows are (B, 2, H, W), numpy flows (H, W, 2) float32.
"""
from vidstyle.flow.estimate import (FLOW_BACKENDS, DISFlow, FlowEstimator, RAFTFlow, create_flow_estimator,
                                    register_flow_backend)
from vidstyle.flow.occlusion import (consistency_mask, in_view_mask, in_view_mask_numpy, motion_boundary_mask,
                                     valid_mask, valid_mask_numpy)
from vidstyle.flow.warp import (flow_numpy_to_torch, flow_to_grid, flow_to_map, flow_torch_to_numpy, grid_to_flow,
                                resize_flow, resize_flow_tensor, warp, warp_numpy)
from vidstyle.flow.stabilizer import FlowStabilizer, FlowState

__all__ = [
    "FLOW_BACKENDS", "DISFlow", "FlowEstimator", "RAFTFlow", "create_flow_estimator", "register_flow_backend",
    "consistency_mask", "in_view_mask", "in_view_mask_numpy", "motion_boundary_mask", "valid_mask", "valid_mask_numpy",
    "FlowStabilizer", "FlowState",
    "flow_numpy_to_torch", "flow_to_grid", "flow_to_map", "flow_torch_to_numpy", "grid_to_flow", "resize_flow",
    "resize_flow_tensor", "warp", "warp_numpy",
]
