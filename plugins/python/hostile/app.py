"""The component's entry: hookgate:plugin's exports over handler.py (`hookgate plugin build`)."""
import handler
from hookgate.wit import component

Handler, Validate = component(handler)
