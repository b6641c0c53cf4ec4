"""The component's entry (what `hookgate plugin build` compiles): hookgate:plugin's exports
over handler.py. Nothing to change here."""
import handler
from hookgate.wit import component

Handler, Validate = component(handler)
