"""Hydra's config folder, importable as ``contextual_rnn.conf`` (``pkg://contextual_rnn.conf``).

In a checkout ``src/contextual_rnn/conf`` links here; a wheel holds a copy, so an installed
package trains from any directory.
"""
