"""Type stub of the compiled INTER_AREA kernel (`_area.c`); `area_resize.py` is its user."""

import numpy as np

class Plan:
    """The checked tables and SIMD plan of one resize, built once per `AreaResizer`."""

    def __init__(
        self,
        src_rows: int,
        src_row_len: int,
        xstart: np.ndarray,
        xweight: np.ndarray,
        ystart: np.ndarray,
        yweight: np.ndarray,
        channels: int,
        /,
    ) -> None: ...
    def resize(self, image: np.ndarray, out: np.ndarray, portable: bool, /) -> None: ...
