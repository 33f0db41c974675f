"""Classical diffusion: noise schedules, samplers, the U-Net and the seed baseline, as training tasks.

make_schedule(kind, timesteps) -> NoiseSchedule     core.diffusion.schedules
run_sampler(name, eps_fn, x_T, schedule, n)          core.diffusion.samplers  (ddpm, ddim, fast; n sampler steps)
UNet, unet_config(preset, size)                      core.diffusion.unet
SimpleDiffusionCNN                                   core.diffusion.seed_baseline
DiffusionTask, build_task, default_config            core.diffusion.task
"""
