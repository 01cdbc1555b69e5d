"""Constants named once for the whole project."""

#: Sample rate of all audio inside wakeword, in Hz (inputs at other rates are resampled to it).
SAMPLE_RATE = 16_000

#: Peak absolute amplitude (full scale = 1.0) below which a clip counts as silent (-80 dBFS).
SILENCE_PEAK = 1e-4

#: Shortest clip accepted by default, in seconds (one analysis window of the default frontend).
MIN_SECONDS = 0.1
