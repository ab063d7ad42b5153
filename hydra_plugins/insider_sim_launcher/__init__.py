"""insider-sim's Hydra launcher plugin: submitit's local launcher with a cap on parallel jobs."""
