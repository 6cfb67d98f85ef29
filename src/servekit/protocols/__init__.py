"""Protocol codecs over the one data plane."""
