"""The applications: training loops and experiment runners built on both backends."""
