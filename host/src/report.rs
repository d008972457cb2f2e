//! Reading run folders and summarising them over seeds.
