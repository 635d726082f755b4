"""Messengers behind one protocol: how a reply goes out and how updates come in.

    registry.PLATFORMS ─ one `PlatformSpec` per messenger (name, label, settings
                         section, limits, the package that implements it)
    delivery.Delivery  ─ the one outcome of one send attempt, for every messenger
    base.Channel       ─ one attempt to send one `Reply` to one chat; never sleeps

Chat replies and the broadcast worker both send through a `Channel`; platform
names live only in the registry. Adding a messenger = one package under
bot/channels/ (its settings model, its channel, its inbound side) + one entry
in `registry.PLATFORMS` + one settings field (see README, "Adding a messenger").
"""
