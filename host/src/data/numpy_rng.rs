//! The few draws of numpy's legacy `RandomState` that the Omniglot reference code makes,
//! reproduced bit for bit so that rebar's Omniglot splits and static binarization are the
//! REBAR reference's (see [`omniglot`](super::omniglot)).
//!
//! numpy's `RandomState(seed)` with an integer seed is the 32-bit Mersenne Twister MT19937
//! seeded by Matsumoto and Nishimura's `init_genrand(seed)`. The reference uses two of its
//! functions:
//!
//! * `rand()` / `random_sample()`: two 32-bit outputs `a`, `b` give the double
//!   `((a >> 5)·2²⁶ + (b >> 6)) / 2⁵³` ([`NumpyRng::next_f64`]);
//! * `permutation(n)`: `arange(n)` shuffled by Fisher–Yates from the end, the index for slot
//!   `i` drawn uniformly from `0..=i` by masked rejection sampling of 32-bit outputs
//!   ([`NumpyRng::permutation`]).
//!
//! numpy keeps these streams fixed across versions for `RandomState` (its "legacy" stability
//! promise), which is why they can be reproduced here. The tests check them against values
//! printed by numpy.

/// Words of MT19937's state.
const N: usize = 624;
/// MT19937's middle word offset.
const M: usize = 397;

/// numpy's legacy `RandomState(seed)`: MT19937 with `init_genrand` seeding.
#[derive(Clone)]
pub(crate) struct NumpyRng {
    state: [u32; N],
    /// Next word of `state` to temper; `N` means the state must be regenerated first.
    index: usize,
}

impl NumpyRng {
    /// `numpy.random.RandomState(seed)` (also `numpy.random.seed(seed)`).
    pub(crate) fn new(seed: u32) -> NumpyRng {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        NumpyRng { state, index: N }
    }

    /// The next 32-bit output of MT19937.
    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.regenerate();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn regenerate(&mut self) {
        for k in 0..N {
            let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % N] & 0x7fff_ffff);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            self.state[k] = self.state[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// numpy's `random_sample()`: a double in `[0, 1)` with 53 random bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) / 9_007_199_254_740_992.0
    }

    /// numpy's legacy `random_interval(max)`: uniform in `0..=max` (`max < 2³²`), by drawing
    /// 32-bit outputs masked to the smallest all-ones mask covering `max` until one is `<= max`.
    fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mask = u32::MAX >> max.leading_zeros();
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.permutation(n)` for `n < 2³²`: a permutation of `0..n`.
    pub(crate) fn permutation(&mut self, n: u32) -> Vec<u32> {
        let mut out: Vec<u32> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i);
            out.swap(i as usize, j as usize);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by numpy 2.4.6 (`RandomState` streams are fixed across versions).

    #[test]
    fn mt19937_matches_the_reference_implementation() {
        // mt19937ar.c's init_genrand(5489) output starts 3499211612, 581869302, 3890346734.
        let mut rng = NumpyRng::new(5489);
        assert_eq!([rng.next_u32(), rng.next_u32(), rng.next_u32()], [3_499_211_612, 581_869_302, 3_890_346_734]);
    }

    #[test]
    fn random_sample_matches_numpy() {
        // np.random.seed(5); np.random.rand(3).tolist()
        let mut rng = NumpyRng::new(5);
        let got = [rng.next_f64(), rng.next_f64(), rng.next_f64()];
        assert_eq!(got, [0.22199317108973948, 0.8707323061773764, 0.20671915533942642]);
    }

    #[test]
    fn permutation_matches_numpy() {
        // np.random.RandomState(seed=123).permutation(10)
        assert_eq!(NumpyRng::new(123).permutation(10), [4, 0, 7, 5, 8, 3, 1, 6, 9, 2]);
        // np.random.RandomState(seed=123).permutation(24345): Omniglot's training images.
        let p = NumpyRng::new(123).permutation(24_345);
        assert_eq!(p[..4], [17_795, 4_791, 14_296, 974]);
        assert_eq!(p[p.len() - 4..], [21_602, 17_730, 15_725, 19_966]);
        assert_eq!(p[24_345 - 1_345..][..4], [16_589, 2_819, 37, 12_843]);
        // sum((i + 1) * p[i]) mod 2^61 - 1, over the whole permutation.
        let weighted = p.iter().enumerate().fold(0u128, |s, (i, &v)| s + (i as u128 + 1) * u128::from(v));
        assert_eq!(weighted % ((1 << 61) - 1), 3_606_945_646_538);
    }
}
