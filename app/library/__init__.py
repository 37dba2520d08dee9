"""The audio library: jingles, music beds, station idents and recorded programmes for reuse."""
