"""Staff side (巡察办 / 巡察组): set-up of rounds from a deployment file; the desk comes later."""
