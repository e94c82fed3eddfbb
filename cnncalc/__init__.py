"""cnncalc: exact shapes, parameters, MACs and FLOPs of CNNs described in YAML.

    >>> import cnncalc
    >>> summary = cnncalc.summarize(cnncalc.load("specs/lenet5.yaml"))
    >>> summary.layer("C3").params
    1516
"""
from .diagnostics import CnncalcError, Diagnostic, Location, SpecError, UsageError
from .expect import check as check_expect
from .figures import Figures
from .language.build import load, loads
from .summary import LayerRecord, Summary, Totals, summarize

__version__ = "0.1.0"
__all__ = ["load", "loads", "summarize", "check_expect", "Summary", "LayerRecord", "Totals", "Figures",
           "Diagnostic", "CnncalcError", "SpecError", "UsageError", "Location", "__version__"]
