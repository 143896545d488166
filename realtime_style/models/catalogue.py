"""What we know about published style networks: their artworks and licences.

Only public-domain artworks may ship inside the package.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Artwork:
    title: str
    public_domain: bool

    def describe(self) -> str:
        return f"{self.title}; {'public domain' if self.public_domain else 'not public domain'}"


ML5_STYLES: dict[str, Artwork] = {
    "wave": Artwork("The Great Wave off Kanagawa, Katsushika Hokusai, c. 1831", True),
    "scream": Artwork("The Scream, Edvard Munch, 1893", True),
    "udnie": Artwork("Udnie (Young American Girl, The Dance), Francis Picabia, 1913", True),
    "wreck": Artwork("The Shipwreck of the Minotaur, J. M. W. Turner, c. 1810", True),
    "la_muse": Artwork("La Muse, Pablo Picasso, 1935", False),
    "rain_princess": Artwork("Rain Princess, Leonid Afremov", False),
}
ML5_LICENSE = "MIT (ml5js/ml5-data-and-models)"
