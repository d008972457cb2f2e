//! PNG plots of runs: training curves, variance comparisons, the toy problem, image grids.
