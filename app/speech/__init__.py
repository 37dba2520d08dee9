"""Speech: normalising Vietnamese text, engines, audio assembly and renders."""
