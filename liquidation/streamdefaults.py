"""The listener's two tunable limits, in one place: ``streams.Listener``'s defaults and the defaults of
LIQUIDATION_STREAM_SILENCE_SECONDS / LIQUIDATION_STREAM_MAX_AGE_SECONDS in settings. Import-free, so
settings can read it cheaply."""

#: Reconnect a feed without an application ping that has sent no data frame for this long (seconds).
STREAM_SILENCE = 120.0
#: Recycle connections before this age (one venue cuts them after 24 hours; see its module).
STREAM_MAX_AGE = 23.5 * 3600
