"""The project's Hydra launcher (Hydra loads launchers from the ``hydra_plugins`` package)."""
