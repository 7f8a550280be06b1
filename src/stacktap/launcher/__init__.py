"""The launcher of ``stacktap run`` (runs in stacktap's own process): the environment the
traced child gets (``env``) and the collector that stores what its hooks relay (``collector``)."""
