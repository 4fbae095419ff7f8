import numpy as np
import pytest
import torch

from tradeoffs.callbacks.panels import panel, to_uint8


def test_to_uint8_rounds_and_clips():
    values = torch.tensor([-0.5, 0.0, 0.5, 1.0, 1.7])
    assert to_uint8(values).tolist() == [0, 0, 128, 255, 255]


def test_panel_layout_and_enlargement():
    rows = [torch.full((3, 1, 16, 16), 0.5), torch.zeros(3, 1, 16, 16)]
    grid = panel(rows, padding=2, min_size=96)  # 16 px -> ×6 = 96 px
    assert grid.dtype == np.uint8 and grid.shape == (2 * 96 + 3 * 2, 3 * 96 + 4 * 2, 3)
    assert (grid[2:98, 2:98] == 128).all() and (grid[100:196, 2:98] == 0).all()
    assert panel([torch.rand(2, 3, 128, 128)], min_size=96).shape == (132, 262, 3)  # large images unchanged


def test_column_headers_sit_in_a_band_above_their_columns():
    rows = [torch.zeros(3, 1, 16, 16)]
    plain = panel(rows, padding=2, min_size=96)
    headed = panel(rows, padding=2, min_size=96, headers=["observation", "", "std"])
    band, grid = headed[:16], headed[16:]
    assert np.array_equal(grid, plain)  # the images are unchanged below the band
    column = lambda j: band[:, 2 + j * 98 : 2 + j * 98 + 96]  # noqa: E731
    assert (column(0) < 128).any() and (column(2) < 128).any()  # dark text where a header is
    assert (column(1) == 255).all()  # and none where the header is empty
    with pytest.raises(ValueError, match="2 headers for 3 columns"):
        panel(rows, headers=["a", "b"])
