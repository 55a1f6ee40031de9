"""Running a Processing algorithm in tests the way the Toolbox does."""
from __future__ import annotations


def run_algorithm(alg_id: str, params: dict):
    """checkParameterValues, then run, as the Toolbox does; returns (results, context, algorithm)."""
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    assert alg is not None, alg_id
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    ok, message = alg.checkParameterValues(params, context)
    assert ok, message
    results, ok = alg.run(params, context, QgsProcessingFeedback())
    assert ok
    return results, context, alg
