"""The embedded demo and its retry handlers: it uses dashapp.recording as sync code would."""
