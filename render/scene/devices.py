"""Render settings: Cycles (device, denoiser, view transform) and the GPU backends."""

from __future__ import annotations

from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)

from core.errors import PipelineError

GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")


class RenderSetupError(PipelineError):
    """The render device or settings cannot be honoured (e.g. no GPU)."""


def reset() -> bpy.types.Scene:
    """An empty scene (factory settings, no objects), Cycles selected."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    return scene


def setup_render(scene: bpy.types.Scene, *, resolution: tuple[int, int], samples: int,
                 device: str = "CPU", threads: int = 0, transparent: bool = False,
                 exposure: float = 0.0, denoise: str = "albedo_normal") -> dict[str, Any]:
    """Cycles settings; returns what was chosen (device backend, denoiser)."""
    scene.render.engine = "CYCLES"
    scene.render.resolution_x, scene.render.resolution_y = (int(v) for v in resolution)
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = transparent
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA" if transparent else "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.render.use_file_extension = False
    if threads > 0:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = int(threads)
    cyc = scene.cycles
    cyc.samples = int(samples)
    cyc.use_adaptive_sampling = True
    cyc.adaptive_threshold = 0.02
    cyc.max_bounces = 6
    cyc.diffuse_bounces = 2
    cyc.glossy_bounces = 2
    cyc.transmission_bounces = 4
    cyc.volume_bounces = 0
    cyc.volume_biased = True  # ray-marched volumes: ~1.5x faster, no visible difference here
    cyc.volume_step_rate = 2.0
    cyc.transparent_max_bounces = 16
    cyc.caustics_reflective = False
    cyc.caustics_refractive = False
    cyc.blur_glossy = 1.0
    cyc.seed = 0  # deterministic noise pattern, the same for every frame
    # a sun or a three-light rig (emissive data is no light: emission_sampling NONE): the
    # light tree's overhead buys nothing (-6 % of a climate frame's time, same SSIM)
    cyc.use_light_tree = False
    chosen = {"device": "CPU", "backend": "", "denoiser": ""}
    if device.upper() == "GPU":
        chosen["backend"] = enable_gpu()
        cyc.device = "GPU"
        chosen["device"] = "GPU"
    else:
        cyc.device = "CPU"
    import _cycles  # Cycles' own module, present wherever Cycles is

    if getattr(_cycles, "with_openimagedenoise", False):
        cyc.use_denoising = True
        cyc.denoiser = "OPENIMAGEDENOISE"
        # the manifest's render.denoise: "albedo" where thin tubes and points make the normal
        # pass noisy at a few samples (climate: SSIM 0.956 vs 0.952 with normals at 6 spp)
        cyc.denoising_input_passes = ("RGB_ALBEDO" if denoise == "albedo"
                                      else "RGB_ALBEDO_NORMAL")
        # the albedo and normal passes go in as they are: ACCURATE denoises them first, two
        # more OIDN passes that cost 8 of a climate frame's 13 CPU seconds at 8 samples, for
        # an SSIM against the 512-sample reference within 0.004 of FAST's
        cyc.denoising_prefilter = "FAST"
        chosen["denoiser"] = "OPENIMAGEDENOISE"
    else:
        cyc.use_denoising = False
    vs = scene.view_settings
    vs.view_transform = "AgX"
    vs.look = "AgX - Medium High Contrast"
    vs.exposure = float(exposure)
    vs.gamma = 1.0
    scene.display_settings.display_device = "sRGB"
    return chosen


def enable_gpu() -> str:
    """Enable the first GPU backend with devices; raise RenderSetupError if there is none."""
    prefs = bpy.context.preferences.addons["cycles"].preferences
    for backend in GPU_BACKENDS:
        try:
            prefs.compute_device_type = backend
        except TypeError:
            continue  # backend not compiled in
        prefs.get_devices()
        gpus = [d for d in prefs.devices if d.type == backend]
        if gpus:
            for d in prefs.devices:
                d.use = d.type == backend
            return backend
    raise RenderSetupError("no GPU device found (tried " + ", ".join(GPU_BACKENDS)
                           + "); render with --device CPU")
